module github.com/pandatix/go-cvss

go 1.25.0
