// Package loadgen drives a running Switchboard server through its public
// API, as `switchboard loadtest`, and reports throughput and latency
// percentiles. It sets up what it needs (a team, a queue, agents with
// tokens) through the same API, so that it measures exactly what clients
// get, HTTP and all.
package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// client makes JSON calls to the API.
type client struct {
	base string
	http *http.Client
}

// problem is an API error answer (RFC 9457).
type problem struct {
	Status int    `json:"status"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
}

func (p *problem) Error() string {
	if p.Detail != "" {
		return fmt.Sprintf("%d %s: %s", p.Status, p.Title, p.Detail)
	}
	return fmt.Sprintf("%d %s", p.Status, p.Title)
}

// call sends body (when not nil) as JSON with the bearer token and decodes
// a successful answer into out (when not nil).
func (c *client) call(ctx context.Context, method, path, token string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return err
	}
	if res.StatusCode >= 300 {
		p := &problem{Status: res.StatusCode, Title: http.StatusText(res.StatusCode)}
		if strings.Contains(res.Header.Get("Content-Type"), "json") {
			_ = json.Unmarshal(data, p)
		}
		return fmt.Errorf("%s %s: %w", method, path, p)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}
