// Command qvt tracks Qualys vulnerabilities to remediation. See README.md.
package main

import (
	"os"

	"qvt/internal/app"
)

func main() { os.Exit(app.Main()) }
