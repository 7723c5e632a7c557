package platform

import (
	"strings"
	"testing"

	"github.com/apim-conformance/apim-conformance/fixtures/images"
	"github.com/apim-conformance/apim-conformance/fixtures/patterns"
)

// Pattern 6 builds exactly the images it built before the images phase
// became pattern-driven (same Dockerfiles, so the same content-addressed tags).
func TestPattern6ImagesUnchanged(t *testing.T) {
	p, _ := patterns.Get(6)
	want := map[string]images.Spec{
		patterns.ImageAPIM: images.APIMWithMySQL(APIMBaseImage, ""),
		patterns.ImageIS:   images.ISWithNotificationHandler(ISBaseImage, ""),
	}
	if len(p.Images) != len(want) {
		t.Fatalf("roles %+v", p.Images)
	}
	for _, r := range p.Images {
		got, derived, err := derivedSpec(r)
		if err != nil || !derived {
			t.Fatalf("%s: %v %v", r.Role, derived, err)
		}
		w := want[r.Role]
		if images.Dockerfile(got) != images.Dockerfile(w) || got.Repository != w.Repository || got.Owner != w.Owner {
			t.Errorf("%s: %+v, want %+v", r.Role, got, w)
		}
	}
	if p.KeystoreRole != patterns.ImageAPIM || p.Database != patterns.DatabaseMySQL {
		t.Errorf("keystore role %q database %q", p.KeystoreRole, p.Database)
	}
}

// Every pattern's roles map to a build (or to the official image), with
// the MySQL driver in the product home of that image.
func TestEveryPatternImageRoleBuilds(t *testing.T) {
	for _, n := range patterns.Numbers() {
		p, _ := patterns.Get(n)
		for _, r := range p.Images {
			s, derived, err := derivedSpec(r)
			if err != nil {
				t.Fatalf("pattern %d: %v", n, err)
			}
			if !derived {
				if r.Role != patterns.ImageTM && r.Role != patterns.ImageGW {
					t.Errorf("pattern %d: %s runs the official image but has a database", n, r.Role)
				}
				continue
			}
			df := images.Dockerfile(s)
			if !strings.HasPrefix(df, "FROM "+r.Base+"\n") || !strings.Contains(df, " "+r.Home+"/repository/components/") {
				t.Errorf("pattern %d role %s:\n%s", n, r.Role, df)
			}
		}
		if _, ok := p.ImageRole(p.KeystoreRole); !ok {
			t.Errorf("pattern %d: keystore role %s", n, p.KeystoreRole)
		}
	}
}

func TestWantMySQL(t *testing.T) {
	p0, _ := patterns.Get(0)
	p3, _ := patterns.Get(3)
	for _, c := range []struct {
		env  string
		p    *patterns.Pattern
		want bool
		err  bool
	}{
		{"", p0, false, false}, {"mysql", p0, true, false}, {"h2", p0, false, false},
		{"", p3, true, false}, {"MySQL", p3, true, false}, {"h2", p3, false, true}, {"oracle", p0, false, true},
	} {
		t.Setenv("APIMCONF_DATABASE", c.env)
		got, err := wantMySQL(c.p)
		if got != c.want || (err != nil) != c.err {
			t.Errorf("APIMCONF_DATABASE=%q pattern %d: %v %v", c.env, c.p.Number, got, err)
		}
		if err != nil && !strings.Contains(err.Error(), "APIMCONF_DATABASE") {
			t.Errorf("error does not name the fix: %v", err)
		}
	}
}

func TestUniqueRefs(t *testing.T) {
	got := uniqueRefs(map[string]string{"acp": "local/a:1", "km": "local/a:1", "gw": "wso2/g:1"})
	if strings.Join(got, ",") != "local/a:1,wso2/g:1" {
		t.Errorf("%v", got)
	}
	if img := imageOf("wso2/wso2am-tm:4.7.0"); img.Ref() != "wso2/wso2am-tm:4.7.0" {
		t.Errorf("official image ref %+v", img)
	}
}
