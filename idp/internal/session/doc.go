// Package session provides the SSO session shared by every protocol front
// end: an HttpOnly cookie holding a random 256-bit value, and a stored
// storage.Session keyed by the value's SHA-256 hash (a database leak does not
// yield usable cookies).
//
// A session is valid until its absolute lifetime ends or it has been idle
// longer than the idle timeout; each use moves LastSeenAt. The cookie itself
// is a browser-session cookie: closing the browser forgets it, the server
// side enforces the lifetimes.
package session
