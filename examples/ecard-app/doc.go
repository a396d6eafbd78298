// Command ecard-app is a command-line stand-in for the e-card phone app:
// it binds itself to a holder at a card service platform, confirms QR
// logins, and shows counter codes, keeping its key in a file. The client
// logic is package app (examples/ecard-app/app); see README.md.
//
//	ecard-app bind --platform URL --name 张三 --ssn 110105199003070017 --card A00000001
//	ecard-app scan QR-PAYLOAD-OR-URL [--yes | --refuse]
//	ecard-app show-code
//
// Exit codes: 0 done, 1 the command ran and failed (or the holder said
// no), 2 a usage mistake. Errors are one line on stderr.
package main
