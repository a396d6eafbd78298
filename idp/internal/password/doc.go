// Package password provides argon2id password hashing in the PHC string
// format and the password policy for new passwords.
//
//	register / change:  CheckPolicy(pw) → Hash(pw, params, rand) → store the string
//	login:              Verify(pw, stored) → ok? → NeedsRehash(stored, params)? → Hash again
//
// Hashes are argon2id (RFC 9106), version 19, a 16-byte salt and a 32-byte
// key:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt, base64 no padding>$<key, base64 no padding>
//
// Defaults are OWASP's minimum (m = 19456 KiB, t = 2, p = 1); Params.Validate
// refuses anything weaker, so a configuration cannot weaken the hashing. Verify
// still reads older hashes with weaker parameters, and NeedsRehash tells the
// login to replace them.
//
// Passwords are NFKC-normalised before hashing and counting (NIST SP 800-63B
// §5.1.1.2), so the same password typed in full-width or half-width form
// matches.
package password
