// Package rest is the small JSON-over-HTTP layer under the typed WSO2
// clients: one place for authentication headers, the suite's User-Agent,
// bounded request time, WSO2 error-body parsing and redacted logging.
package rest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/apim-conformance/apim-conformance/reports/redact"
)

// UserAgent identifies the suite in platform access logs, so a failing check
// can be joined to the server's log lines.
const UserAgent = "apim-conformance/1"

// maxBody caps how much of a response is read; WSO2 answers are small.
const maxBody = 8 << 20

// Auth sets credentials on a request.
type Auth func(*http.Request)

// Basic authenticates with HTTP Basic.
func Basic(user, password string) Auth {
	v := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
	return func(r *http.Request) { r.Header.Set("Authorization", v) }
}

// Bearer authenticates with a bearer token.
func Bearer(token string) Auth {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
}

// Client calls one base URL.
type Client struct {
	HTTP *http.Client
	Base string // e.g. https://apim-wso2am-all-in-one-am-service:9443/api/am/publisher/v4
	Auth Auth
	// Log receives one redacted line per request; nil discards.
	Log func(string)
}

// With returns a copy of c with another base path appended and/or auth.
func (c Client) With(path string, auth Auth) *Client {
	c.Base = strings.TrimRight(c.Base, "/") + path
	if auth != nil {
		c.Auth = auth
	}
	return &c
}

// Response is a read response.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Error is WSO2's error body: {"code":..., "message":..., "description":...}.
// code is a number on the REST APIs and a string on the gateway; both land in
// Code as text.
type Error struct {
	Code        string `json:"-"`
	Message     string `json:"message"`
	Description string `json:"description"`
}

// ParseError reads a WSO2 error body; ok is false when the body is not one.
func ParseError(body []byte) (Error, bool) {
	var raw struct {
		Code        json.RawMessage `json:"code"`
		Message     string          `json:"message"`
		Description string          `json:"description"`
	}
	if err := json.Unmarshal(body, &raw); err != nil || (len(raw.Code) == 0 && raw.Message == "") {
		return Error{}, false
	}
	code := strings.Trim(string(raw.Code), `"`)
	return Error{Code: code, Message: raw.Message, Description: raw.Description}, true
}

// StatusError is an unexpected HTTP status.
type StatusError struct {
	Method, URL string
	Status      int
	WSO2        *Error
	Body        string // redacted, truncated
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("%s %s: HTTP %d", e.Method, e.URL, e.Status)
	if e.WSO2 != nil {
		msg += fmt.Sprintf(" (code %s: %s", e.WSO2.Code, e.WSO2.Message)
		if e.WSO2.Description != "" {
			msg += ": " + e.WSO2.Description
		}
		msg += ")"
	} else if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// IsStatus reports whether err is a StatusError with that status.
func IsStatus(err error, status int) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Status == status
}

// Request describes one call. Body is JSON-encoded unless it is a url.Values
// (form) or []byte (sent as is with ContentType).
type Request struct {
	Method      string
	Path        string // appended to Base; may hold a query
	Query       url.Values
	Body        any
	ContentType string
	Header      http.Header
	// Want lists acceptable statuses; empty means any 2xx.
	Want []int
}

// Do performs r and decodes a JSON answer into out (when out is non-nil and
// the body is not empty). A status outside Want is a *StatusError.
func (c *Client) Do(ctx context.Context, r Request, out any) (*Response, error) {
	u := strings.TrimRight(c.Base, "/") + r.Path
	if len(r.Query) > 0 {
		sep := "?"
		if strings.Contains(u, "?") {
			sep = "&"
		}
		u += sep + r.Query.Encode()
	}
	var body io.Reader
	ct := r.ContentType
	switch b := r.Body.(type) {
	case nil:
	case url.Values:
		body = strings.NewReader(b.Encode())
		if ct == "" {
			ct = "application/x-www-form-urlencoded"
		}
	case []byte:
		body = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return nil, fmt.Errorf("encoding %s %s: %w", r.Method, u, err)
		}
		body = bytes.NewReader(j)
		if ct == "" {
			ct = "application/json"
		}
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, u, body)
	if err != nil {
		return nil, err
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}
	req.Header.Set("User-Agent", UserAgent)
	if c.Auth != nil && req.Header.Get("Authorization") == "" {
		c.Auth(req)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %s", r.Method, u, redact.String(err.Error()))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading the answer: %w", r.Method, u, err)
	}
	if c.Log != nil {
		c.Log(fmt.Sprintf("%s %s -> %d", r.Method, u, resp.StatusCode))
	}
	out2 := &Response{Status: resp.StatusCode, Header: resp.Header, Body: data}
	if !statusOK(resp.StatusCode, r.Want) {
		se := &StatusError{Method: r.Method, URL: u, Status: resp.StatusCode, Body: truncate(redact.String(string(data)), 300)}
		if e, ok := ParseError(data); ok {
			e.Description = redact.String(e.Description)
			se.WSO2 = &e
		}
		return out2, se
	}
	if out != nil && len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return out2, fmt.Errorf("%s %s: HTTP %d but the answer is not the expected JSON: %v (body starts %q)", r.Method, u, resp.StatusCode, err, truncate(redact.String(string(data)), 120))
		}
	}
	return out2, nil
}

func statusOK(status int, want []int) bool {
	if len(want) == 0 {
		return status >= 200 && status < 300
	}
	for _, w := range want {
		if w == status {
			return true
		}
	}
	return false
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
