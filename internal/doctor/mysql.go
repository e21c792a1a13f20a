package doctor

import (
	"context"
	"database/sql"
	"errors"
	"net"

	gomysql "github.com/go-sql-driver/mysql"

	"qvt/internal/publish/mysql"
)

// MySQL connects with the target's DSN, reads SHOW GRANTS and reports
// the privileges qvt's publisher lacks on the DSN's database, with the
// GRANT statement that gives them. It only reads.
func MySQL(ctx context.Context, c mysql.Config) []Check {
	cfg, err := gomysql.ParseDSN(c.DSN)
	if err != nil {
		return []Check{fail("mysql", "write QVT_MYSQL_DSN as user:password@tcp(host:3306)/database", "QVT_MYSQL_DSN does not parse (%s)", dsnError(err))}
	}
	if cfg.DBName == "" {
		return []Check{fail("mysql", "end QVT_MYSQL_DSN with /database, e.g. qvt:...@tcp(db:3306)/vulns", "QVT_MYSQL_DSN names no database")}
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = connectTimeout
	}
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = readTimeout
	}
	where := cfg.User + " on " + cfg.Addr + "/" + cfg.DBName
	conn, err := gomysql.NewConnector(cfg)
	if err != nil {
		return []Check{fail("mysql", "check QVT_MYSQL_DSN's parameters", "%s: %v", where, err)}
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	var version, user string
	err = db.QueryRowContext(ctx, "SELECT VERSION(), CURRENT_USER()").Scan(&version, &user)
	if err != nil {
		return []Check{mysqlError(err, where, cfg.DBName)}
	}
	rows, err := db.QueryContext(ctx, "SHOW GRANTS")
	if err != nil {
		return []Check{fail("mysql", "run qvt doctor with a user that may read its own grants", "%s: SHOW GRANTS: %v", where, err)}
	}
	defer rows.Close()
	var grants []string
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			return []Check{fail("mysql", "", "%s: SHOW GRANTS: %v", where, err)}
		}
		grants = append(grants, g)
	}
	if err := rows.Err(); err != nil {
		return []Check{fail("mysql", "", "%s: SHOW GRANTS: %v", where, err)}
	}
	checks := []Check{ok("mysql", "%s: server %s, connected as %s", where, version, user)}
	if missing := MissingPrivileges(grants, cfg.DBName); len(missing) > 0 && HasRoles(grants) {
		// A role may give them: SHOW GRANTS lists its name, not its
		// privileges, and it takes effect only as a default role.
		checks = append(checks, warn("mysql", "check that a default role gives them, or as an administrator: "+GrantStatement(missing, cfg.DBName, user),
			"%s lacks %s on %s, unless one of its roles gives them", user, joinAnd(missing), cfg.DBName))
	} else if len(missing) > 0 {
		checks = append(checks, fail("mysql", "as an administrator: "+GrantStatement(missing, cfg.DBName, user),
			"%s lacks %s on %s", user, joinAnd(missing), cfg.DBName))
	} else {
		checks = append(checks, ok("mysql", "%s has every privilege the publisher needs on %s", user, cfg.DBName))
	}
	return checks
}

// mysqlError judges a failed connection.
func mysqlError(err error, where, db string) Check {
	var me *gomysql.MySQLError
	var dns *net.DNSError
	switch {
	case errors.As(err, &me) && me.Number == 1045:
		return fail("mysql", "check the user and password of QVT_MYSQL_DSN", "%s: access denied", where)
	case errors.As(err, &me) && (me.Number == 1049 || me.Number == 1044):
		return fail("mysql", "as an administrator: CREATE DATABASE `"+db+"` CHARACTER SET utf8mb4, and grant the user its privileges",
			"%s: %s", where, me.Message)
	case errors.As(err, &dns):
		return fail("mysql", "check the host of QVT_MYSQL_DSN", "%s: the name %s does not resolve", where, dns.Name)
	case errors.As(err, &me):
		return fail("mysql", "", "%s: %s", where, me.Message)
	}
	return fail("mysql", "check the address of QVT_MYSQL_DSN and that the server runs", "%s does not answer: %v", where, err)
}

// joinAnd joins words as a sentence does: "a, b and c".
func joinAnd(words []string) string {
	switch len(words) {
	case 0:
		return ""
	case 1:
		return words[0]
	}
	s := words[0]
	for _, w := range words[1 : len(words)-1] {
		s += ", " + w
	}
	return s + " and " + words[len(words)-1]
}
