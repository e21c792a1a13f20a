package notify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"html/template"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/textproto"
	"strings"
	"time"

	"qvt/internal/runs"
)

// RenderSlack renders m for a Slack incoming webhook: blocks, with text as the
// notification's fallback.
func RenderSlack(m Message) ([]byte, error) {
	type text struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	type element struct {
		Type string `json:"type"`
		Text text   `json:"text"`
		URL  string `json:"url"`
	}
	type block struct {
		Type     string    `json:"type"`
		Text     *text     `json:"text,omitempty"`
		Elements []element `json:"elements,omitempty"`
	}
	blocks := []block{{Type: "header", Text: &text{"plain_text", clip(m.Title(), 150)}}}
	var lines []string
	for _, f := range m.Facts() {
		label := "*" + slackEscape(f.Label) + "*"
		if f.URL != "" {
			label = "*<" + f.URL + "|" + slackEscape(f.Label) + ">*"
		}
		lines = append(lines, label+": "+slackEscape(f.Value))
	}
	// A section's text holds at most 3000 characters.
	blocks = append(blocks, block{Type: "section", Text: &text{"mrkdwn", clip(strings.Join(lines, "\n"), 3000)}})
	if u := m.URL(); u != "" {
		blocks = append(blocks, block{Type: "actions", Elements: []element{{Type: "button", Text: text{"plain_text", "Open dashboard"}, URL: u}}})
	}
	return json.Marshal(struct {
		Text   string  `json:"text"`
		Blocks []block `json:"blocks"`
	}{m.Summary(), blocks})
}

// slackEscape escapes the three characters Slack's mrkdwn gives meaning.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// RenderTeams renders m for a Teams Workflows webhook: a message whose one
// attachment is an Adaptive Card 1.4 (the legacy MessageCard is refused).
func RenderTeams(m Message) ([]byte, error) {
	type fact struct {
		Title string `json:"title"`
		Value string `json:"value"`
	}
	var facts []fact
	for _, f := range m.Facts() {
		v := f.Value
		if f.URL != "" {
			v = "[" + v + "](" + f.URL + ")"
		}
		facts = append(facts, fact{f.Label, v})
	}
	body := []map[string]any{
		{"type": "TextBlock", "text": m.Title(), "weight": "Bolder", "size": "Medium", "wrap": true},
		{"type": "TextBlock", "text": m.Summary(), "wrap": true},
		{"type": "FactSet", "facts": facts},
	}
	card := map[string]any{
		"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
		"type":    "AdaptiveCard",
		"version": "1.4",
		"body":    body,
		"msteams": map[string]string{"width": "Full"},
	}
	if u := m.URL(); u != "" {
		card["actions"] = []map[string]string{{"type": "Action.OpenUrl", "title": "Open dashboard", "url": u}}
	}
	return json.Marshal(map[string]any{
		"type": "message",
		"attachments": []map[string]any{{
			"contentType": "application/vnd.microsoft.card.adaptive",
			"contentUrl":  nil,
			"content":     card,
		}},
	})
}

// Schema names the webhook's JSON; a change that breaks readers gets a
// new version.
const Schema = "qvt.notify/v1"

// WebhookBody is the generic webhook's JSON (README, "Notifications").
type WebhookBody struct {
	Schema   string        `json:"schema"`
	Kind     string        `json:"kind"`
	At       time.Time     `json:"at"`
	Owner    string        `json:"owner,omitempty"`
	Title    string        `json:"title"`
	Text     string        `json:"text"`
	URL      string        `json:"url,omitempty"`
	Run      *WebhookRun   `json:"run,omitempty"`
	Changes  *runs.Changes `json:"changes,omitempty"`
	Failures []Failure     `json:"failures,omitempty"`
	Expiring []Expiring    `json:"expiring,omitempty"`
}

// WebhookRun is the run a webhook message tells of.
type WebhookRun struct {
	ID       int64     `json:"id"`
	RunID    string    `json:"run_id"`
	Trigger  string    `json:"trigger"`
	Status   string    `json:"status"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Error    string    `json:"error,omitempty"`
}

// RenderWebhook renders m as the generic webhook's JSON.
func RenderWebhook(m Message) ([]byte, error) {
	b := WebhookBody{Schema: Schema, Kind: m.Kind, At: m.At.UTC(), Owner: m.Owner, Title: m.Title(), Text: m.Summary(),
		URL: m.URL(), Expiring: m.Expiring}
	if m.Run != nil {
		r := m.Run
		b.Run = &WebhookRun{ID: r.ID, RunID: r.RunID, Trigger: r.Trigger, Status: r.Status, Started: r.Started.UTC(),
			Finished: r.Finished.UTC(), Error: r.Err}
		c := m.Changes
		b.Changes = &c
		b.Failures = failures(m)
	}
	return json.Marshal(b)
}

var htmlBody = template.Must(template.New("mail").Parse(`<!DOCTYPE html>
<html><body style="font-family: sans-serif">
<h2>{{.Title}}</h2>
<p>{{.Summary}}</p>
<table cellpadding="4">
{{- range .Facts}}
<tr><th align="left">{{if .URL}}<a href="{{.URL}}">{{.Label}}</a>{{else}}{{.Label}}{{end}}</th><td>{{.Value}}</td></tr>
{{- end}}
</table>
{{- with .URL}}
<p><a href="{{.}}">Open dashboard</a></p>
{{- end}}
</body></html>
`))

// RenderEmail renders m as an RFC 5322 message: multipart/alternative, plain
// text then HTML, both quoted-printable.
func RenderEmail(m Message, from string, to []string) ([]byte, error) {
	var text strings.Builder
	text.WriteString(m.Summary() + "\r\n\r\n")
	for _, f := range m.Facts() {
		fmt.Fprintf(&text, "%s: %s\r\n", f.Label, f.Value)
		if f.URL != "" {
			fmt.Fprintf(&text, "  %s\r\n", f.URL)
		}
	}
	if u := m.URL(); u != "" {
		fmt.Fprintf(&text, "\r\nDashboard: %s\r\n", u)
	}
	var html bytes.Buffer
	err := htmlBody.Execute(&html, struct {
		Title, Summary, URL string
		Facts               []Fact
	}{m.Title(), m.Summary(), m.URL(), m.Facts()})
	if err != nil {
		return nil, fmt.Errorf("notify: e-mail: %w", err)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	// A boundary drawn from the content: the same message is the same
	// bytes, and the boundary cannot occur in the quoted-printable parts
	// (they hold no "=_" run like it).
	h := fnv.New64a()
	h.Write([]byte(m.At.UTC().Format(time.RFC3339Nano) + m.Owner + text.String()))
	if err := mw.SetBoundary(fmt.Sprintf("qvt=_%016x", h.Sum64())); err != nil {
		return nil, fmt.Errorf("notify: e-mail: %w", err)
	}
	for _, part := range []struct {
		ctype string
		body  []byte
	}{{"text/plain; charset=utf-8", []byte(text.String())}, {"text/html; charset=utf-8", html.Bytes()}} {
		w, err := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {part.ctype}, "Content-Transfer-Encoding": {"quoted-printable"}})
		if err != nil {
			return nil, fmt.Errorf("notify: e-mail: %w", err)
		}
		qp := quotedprintable.NewWriter(w)
		if _, err := qp.Write(part.body); err != nil {
			return nil, fmt.Errorf("notify: e-mail: %w", err)
		}
		if err := qp.Close(); err != nil {
			return nil, fmt.Errorf("notify: e-mail: %w", err)
		}
	}
	if err := mw.Close(); err != nil {
		return nil, fmt.Errorf("notify: e-mail: %w", err)
	}
	var msg bytes.Buffer
	hdr := func(k, v string) { fmt.Fprintf(&msg, "%s: %s\r\n", k, v) }
	hdr("From", from)
	hdr("To", strings.Join(to, ", "))
	hdr("Subject", mime.QEncoding.Encode("utf-8", m.Title()))
	hdr("Date", m.At.UTC().Format(time.RFC1123Z))
	hdr("Message-ID", fmt.Sprintf("<qvt.%s.%016x@qvt>", m.Kind, h.Sum64()))
	hdr("MIME-Version", "1.0")
	hdr("Content-Type", `multipart/alternative; boundary="`+mw.Boundary()+`"`)
	hdr("Auto-Submitted", "auto-generated")
	msg.WriteString("\r\n")
	msg.Write(body.Bytes())
	return msg.Bytes(), nil
}
