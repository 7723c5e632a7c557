package conformance

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	. "github.com/onsi/gomega"

	"github.com/apim-conformance/apim-conformance/suites/framework/rest"
)

// page is a fetched web page after following redirects on the same origin.
type page struct {
	URL    string
	Status int
	Type   string
	Body   string
	Hops   []string
}

// fetchPage GETs base+path and follows up to five same-origin redirects, as
// a browser does for the portals' /publisher → /publisher/ and carbon's
// /carbon → /carbon/admin/login.jsp.
func (e *Env) fetchPage(ctx context.Context, base, path string) (page, error) {
	u := strings.TrimRight(base, "/") + path
	var p page
	for hop := 0; hop < 6; hop++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return p, err
		}
		req.Header.Set("User-Agent", rest.UserAgent)
		req.Header.Set("Accept", "text/html,*/*")
		resp, err := e.HTTP.Do(req)
		if err != nil {
			return p, fmt.Errorf("GET %s: %w", u, err)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		p = page{URL: u, Status: resp.StatusCode, Type: resp.Header.Get("Content-Type"), Body: string(body), Hops: p.Hops}
		if resp.StatusCode < 300 || resp.StatusCode >= 400 {
			return p, nil
		}
		loc, err := req.URL.Parse(resp.Header.Get("Location"))
		if err != nil || loc.String() == "" {
			return p, fmt.Errorf("GET %s: redirect without a usable Location", u)
		}
		if !sameOrigin(req.URL, loc) {
			return p, fmt.Errorf("GET %s: redirects off the platform to %s", u, loc.Redacted())
		}
		p.Hops = append(p.Hops, fmt.Sprintf("%d %s", resp.StatusCode, loc.Path))
		u = loc.String()
	}
	return p, fmt.Errorf("GET %s%s: more than five redirects (%v)", base, path, p.Hops)
}

func sameOrigin(a, b *url.URL) bool { return a.Scheme == b.Scheme && a.Host == b.Host }

// spaCheck proves a React portal is served: the SPA shell is an HTML page
// with an empty title (filled by JavaScript) and a react-root element, so the
// marker is react-root, not the title.
func spaCheck(id, name, path string) Check {
	return Check{
		ID: "portal." + id, Description: "the " + name + " portal serves its single-page app at " + path,
		Labels: []string{"portal", "smoke"}, Owner: "apim-conformance",
		Body: func(t *T) {
			var p page
			to := t.Env.Config.Timeouts
			t.Eventually(t.Ctx, func() error {
				var err error
				p, err = t.Env.fetchPage(t.Ctx, t.Env.Endpoints.Management, path)
				if err != nil {
					return err
				}
				if p.Status != 200 {
					return fmt.Errorf("GET %s answered %d after %v", p.URL, p.Status, p.Hops)
				}
				return nil
			}).WithTimeout(to.Scaled(to.Request)).WithPolling(to.Interval()).Should(Succeed(), name+" portal")
			t.Expect(p.Type).To(ContainSubstring("text/html"), "content type of %s", p.URL)
			t.Expect(p.Body).To(ContainSubstring("react-root"), "%s does not look like the %s single-page app", p.URL, name)
		},
	}
}

func portalChecks() []Check {
	return []Check{
		spaCheck("publisher", "Publisher", "/publisher"),
		spaCheck("devportal", "Developer Portal", "/devportal"),
		spaCheck("admin", "Admin", "/admin"),
		{
			ID: "portal.carbon", Description: "the Carbon management console leads to its login page",
			Labels: []string{"portal"}, Owner: "apim-conformance",
			Body: func(t *T) {
				p, err := t.Env.fetchPage(t.Ctx, t.Env.Endpoints.Management, "/carbon")
				t.Expect(err).NotTo(HaveOccurred())
				t.Expect(p.Status).To(Equal(200), "GET /carbon ended at %s with %d after %v", p.URL, p.Status, p.Hops)
				t.Expect(p.Type).To(ContainSubstring("text/html"))
				t.Expect(strings.ToLower(p.Body)).To(ContainSubstring("login"), "the Carbon console did not reach a login page (%s)", p.URL)
			},
		},
		{
			ID: "portal.is-console", Description: "the WSO2 Identity Server 7 console is served",
			Requires: []Capability{IS7KM}, Labels: []string{"portal"}, Owner: "apim-conformance",
			Body: func(t *T) {
				p, err := t.Env.fetchPage(t.Ctx, t.Env.Endpoints.IdentityServer, "/console")
				t.Expect(err).NotTo(HaveOccurred())
				t.Expect(p.Status).To(Equal(200), "GET /console ended at %s with %d after %v", p.URL, p.Status, p.Hops)
				t.Expect(p.Type).To(ContainSubstring("text/html"))
			},
		},
		{
			ID: "gateway.ready", Description: "the gateway reports that every API was deployed at startup (the chart's readiness check)",
			Labels: []string{"gateway", "smoke"}, Owner: "apim-conformance",
			Body: func(t *T) {
				to := t.Env.Config.Timeouts
				t.Eventually(t.Ctx, t.Env.GatewayREST().StartupHealthy).
					WithTimeout(to.Scaled(to.Request)).WithPolling(to.Interval()).Should(Succeed(), "gateway server-startup-healthcheck")
			},
		},
	}
}
