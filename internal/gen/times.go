package gen

// Timestamps are handled as Unix seconds (NVD: milliseconds) and formatted
// by hand: time.Time.Format costs more than generating the field it
// formats, and a detection has eight of them.

const (
	minute = 60
	hour   = 60 * minute
	day    = 24 * hour
)

// civil converts days since 1970-01-01 to a date (Howard Hinnant's
// days_from_civil inverse).
func civil(days int64) (y, m, d int) {
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	if mp < 10 {
		m = int(mp + 3)
	} else {
		m = int(mp - 9)
	}
	y = int(yoe + era*400)
	if m <= 2 {
		y++
	}
	return y, m, d
}

// daysFromCivil is the inverse of civil.
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := int64(y - era*400)
	mm := int64(m)
	if mm > 2 {
		mm -= 3
	} else {
		mm += 9
	}
	doy := (153*mm+2)/5 + int64(d) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + doe - 719468
}

// yearStart returns the Unix time of January 1st of year y.
func yearStart(y int) int64 { return daysFromCivil(y, 1, 1) * day }

func yearOf(sec int64) int {
	y, _, _ := civil(floorDiv(sec, day))
	return y
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func put2(b []byte, v int) { b[0], b[1] = byte('0'+v/10), byte('0'+v%10) }

// appendDate appends "YYYY-MM-DD".
func appendDate(b []byte, sec int64) []byte {
	y, m, d := civil(floorDiv(sec, day))
	var t [10]byte
	put2(t[0:], y/100)
	put2(t[2:], y%100)
	t[4] = '-'
	put2(t[5:], m)
	t[7] = '-'
	put2(t[8:], d)
	return append(b, t[:]...)
}

// appendClock appends "THH:MM:SS".
func appendClock(b []byte, sec int64) []byte {
	s := sec - floorDiv(sec, day)*day
	var t [9]byte
	t[0] = 'T'
	put2(t[1:], int(s/hour))
	t[3] = ':'
	put2(t[4:], int(s/minute%60))
	t[6] = ':'
	put2(t[7:], int(s%60))
	return append(b, t[:]...)
}

// qualysTime formats as Qualys does: "2020-10-07T13:02:59Z".
func qualysTime(sec int64) string {
	var buf [20]byte
	b := appendDate(buf[:0], sec)
	b = appendClock(b, sec)
	b = append(b, 'Z')
	return string(b)
}

// optQualysTime is qualysTime, or "" for 0 (no such time).
func optQualysTime(sec int64) string {
	if sec == 0 {
		return ""
	}
	return qualysTime(sec)
}

// nvdTime formats as NVD does: milliseconds, no zone ("2021-12-10T10:15:09.143").
func nvdTime(ms int64) string {
	var buf [23]byte
	return string(appendNVDTime(buf[:0], ms))
}

func appendNVDTime(b []byte, ms int64) []byte {
	sec := floorDiv(ms, 1000)
	b = appendDate(b, sec)
	b = appendClock(b, sec)
	frac := int(ms - sec*1000)
	return append(b, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
}

func dateString(sec int64) string {
	var buf [10]byte
	return string(appendDate(buf[:0], sec))
}
