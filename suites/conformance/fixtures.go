package conformance

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/onsi/gomega"

	"github.com/apim-conformance/apim-conformance/suites/framework/apim"
	"github.com/apim-conformance/apim-conformance/suites/framework/oauth"
	"github.com/apim-conformance/apim-conformance/suites/framework/rest"
)

// Resources created by the checks, named so a person can find and remove them.
const (
	ISKeyManagerName = "apimconf-is7"
	TestAPIVersion   = "1.0.0"
	TestResource     = "/echo"
	tier             = "Unlimited"
)

// poll runs attempt until it returns nil, ctx ends or timeout passes, and
// returns the last error. Gomega's Eventually does the polling; attempt may
// return gomega.StopTrying(...) to give up at once on a terminal answer.
func (e *Env) poll(ctx context.Context, timeout time.Duration, what string, attempt func() error) error {
	var failure string
	g := gomega.NewGomega(func(message string, _ ...int) { failure = message })
	ok := g.Eventually(ctx, attempt).WithTimeout(timeout).WithPolling(e.Config.Timeouts.Interval()).Should(gomega.Succeed())
	if ok {
		return nil
	}
	return fmt.Errorf("%s: gave up after %s: %s", what, timeout, strings.TrimSpace(failure))
}

// PortalToken is a resident-KM token with the Publisher, DevPortal and Admin
// scopes, obtained the way WSO2's own suite does: DCR, then a password grant.
func (e *Env) PortalToken(ctx context.Context) (string, error) {
	return e.portalToken.get(func() (string, error) {
		to := e.Config.Timeouts
		var tok oauth.Token
		err := e.poll(ctx, to.Scaled(to.TokenIssue), "portal token (DCR + password grant at the resident key manager)", func() error {
			// DCR answers 500 for a while after boot; retry until it settles.
			c, err := e.APIM().RegisterAPIM(ctx, e.AdminAuth(), oauth.APIMRegistration{
				ClientName: "apimconf_rest_" + e.Suffix, Owner: e.Config.Admin.Username,
				GrantType: "client_credentials password refresh_token", SaasApp: "true", TokenType: "JWT",
			})
			if err != nil {
				if rest.IsStatus(err, 401) || rest.IsStatus(err, 403) {
					return gomega.StopTrying("the admin credentials were refused by DCR: check admin.username/admin.password (APIMCONF_ADMIN_USER/APIMCONF_ADMIN_PASSWORD)").Wrap(err)
				}
				return err
			}
			scopes := append(append(append([]string{}, apim.PublisherScopes...), apim.DevPortalScopes...), apim.AdminScopes...)
			tok, err = e.APIM().Password(ctx, c, e.Config.Admin.Username, e.Config.Admin.Password, scopes...)
			return err
		})
		return tok.AccessToken, err
	})
}

// ISKeyManager registers WSO2 IS 7 as a key manager through the Admin API,
// with in-cluster URLs, and waits until it is listed and enabled. An existing
// registration with the same name is reused.
func (e *Env) ISKeyManager(ctx context.Context) (apim.KeyManager, error) {
	return e.isKM.get(func() (apim.KeyManager, error) {
		admin, err := e.Admin(ctx)
		if err != nil {
			return apim.KeyManager{}, err
		}
		disc, err := e.IS().Discover(ctx)
		if err != nil {
			return apim.KeyManager{}, fmt.Errorf("reading the IS issuer before registration: %w", err)
		}
		list, err := admin.ListKeyManagers(ctx)
		if err != nil {
			return apim.KeyManager{}, err
		}
		for _, km := range list {
			if km.Name == ISKeyManagerName {
				e.logf("reusing key manager %s (%s)", km.Name, km.ID)
				return apim.KeyManager{ID: km.ID, Name: km.Name, Type: km.Type, Enabled: km.Enabled}, nil
			}
		}
		km := apim.IS7KeyManager(ISKeyManagerName, e.Endpoints.IdentityServer, disc.Issuer, e.Config.ISAdmin.Username, e.Config.ISAdmin.Password)
		created, err := admin.CreateKeyManager(ctx, km)
		if err != nil {
			return created, err
		}
		e.onCleanup(func(ctx context.Context) error { return admin.DeleteKeyManager(ctx, created.ID) })
		to := e.Config.Timeouts
		err = e.poll(ctx, to.Scaled(to.KeyManagerPropagation), "key manager "+ISKeyManagerName+" listed and enabled", func() error {
			list, err := admin.ListKeyManagers(ctx)
			if err != nil {
				return err
			}
			for _, k := range list {
				if k.Name == ISKeyManagerName && k.Enabled && k.Type == "WSO2-IS-7" {
					return nil
				}
			}
			return fmt.Errorf("not listed yet")
		})
		return created, err
	})
}

// appKeyManager is the name sent to generate-keys.
func (e *Env) appKeyManager(ctx context.Context) (string, error) {
	if e.Has(IS7KM) {
		km, err := e.ISKeyManager(ctx)
		return km.Name, err
	}
	return "Resident Key Manager", nil
}

// PublishedAPI creates the test API pointing at the echo backend, deploys a
// revision to the Default environment, publishes it, and waits until the
// gateway acknowledged the deployment (the strongest signal WSO2 gives).
func (e *Env) PublishedAPI(ctx context.Context) (apim.API, error) {
	return e.api.get(func() (apim.API, error) {
		pub, err := e.Publisher(ctx)
		if err != nil {
			return apim.API{}, err
		}
		name := "ApimConfEcho" + e.Suffix
		api, err := pub.CreateAPI(ctx, apim.API{
			Name: name, Context: "/apimconf-" + e.Suffix, Version: TestAPIVersion,
			EndpointConfig: apim.EndpointConfig{EndpointType: "http",
				ProductionEndpoints: apim.Endpoint{URL: e.Endpoints.Backend}, SandboxEndpoints: apim.Endpoint{URL: e.Endpoints.Backend}},
			Policies:       []string{tier},
			Operations:     []apim.Operation{{Target: TestResource, Verb: "GET", AuthType: "Application & Application User", ThrottlingPolicy: tier}},
			Transport:      []string{"http", "https"},
			SecurityScheme: []string{"oauth2"},
			Visibility:     "PUBLIC",
		})
		if err != nil {
			return api, err
		}
		e.onCleanup(func(ctx context.Context) error { return pub.DeleteAPI(ctx, api.ID) })
		envs, err := pub.Environments(ctx)
		if err != nil {
			return api, err
		}
		target := apim.DeploymentTarget{Name: "Default", DisplayOnDevportal: true}
		for _, env := range envs {
			if env.Name == "Default" && len(env.VHosts) > 0 {
				target.VHost = env.VHosts[0].Host
			}
		}
		if target.VHost == "" {
			return api, errors.New("the Publisher lists no Default gateway environment with a vhost: check the chart's gateway environments")
		}
		rev, err := pub.CreateRevision(ctx, api.ID, "apim-conformance")
		if err != nil {
			return api, err
		}
		if err := pub.DeployRevision(ctx, api.ID, rev.ID, []apim.DeploymentTarget{target}); err != nil {
			return api, err
		}
		// WSO2 deploys before publishing; a Published but undeployed API is
		// not routable.
		state, err := pub.ChangeLifecycle(ctx, api.ID, "Publish")
		if err != nil {
			return api, err
		}
		if state != "Published" {
			return api, fmt.Errorf("lifecycle state after Publish is %q, want Published", state)
		}
		to := e.Config.Timeouts
		err = e.poll(ctx, to.Scaled(to.APIDeploy), "gateway acknowledges the deployment of "+name, func() error {
			deps, err := pub.Deployments(ctx, api.ID)
			if err != nil {
				return err
			}
			for _, d := range deps {
				if d.Name == "Default" && d.Acked() {
					return nil
				}
			}
			return fmt.Errorf("deployments not acknowledged by a gateway yet: %+v", deps)
		})
		return api, err
	})
}

// newApp creates an application on appTier, subscribes it (Unlimited) to
// subscribeTo when given, and generates keys at the application key manager.
func (e *Env) newApp(ctx context.Context, name, appTier string, subscribeTo *apim.API) (App, error) {
	dev, err := e.DevPortal(ctx)
	if err != nil {
		return App{}, err
	}
	kmName, err := e.appKeyManager(ctx)
	if err != nil {
		return App{}, err
	}
	app, err := dev.CreateApplication(ctx, apim.Application{Name: name, ThrottlingPolicy: appTier, TokenType: "JWT", Description: "apim-conformance"})
	if err != nil {
		return App{}, err
	}
	e.onCleanup(func(ctx context.Context) error { return dev.DeleteApplication(ctx, app.ApplicationID) })
	if subscribeTo != nil {
		if _, err := dev.Subscribe(ctx, apim.Subscription{ApplicationID: app.ApplicationID, APIID: subscribeTo.ID, ThrottlingPolicy: tier}); err != nil {
			return App{}, err
		}
	}
	var keys apim.Keys
	to := e.Config.Timeouts
	// A freshly registered key manager reaches APIM's holders asynchronously;
	// key generation is retried until it settles (bounded).
	err = e.poll(ctx, to.Scaled(to.KeyManagerPropagation), "generating keys for "+name+" at "+kmName, func() error {
		keys, err = dev.GenerateKeys(ctx, app.ApplicationID, apim.KeyRequest{
			KeyType: "PRODUCTION", KeyManager: kmName,
			GrantTypesToBeSupported: []string{"client_credentials", "password", "refresh_token"},
		})
		var se *rest.StatusError
		if errors.As(err, &se) && se.WSO2 != nil && se.WSO2.Code == "901409" {
			return gomega.StopTrying("key mappings already exist for this application (WSO2 901409): a previous attempt left them behind").Wrap(err)
		}
		return err
	})
	return App{ID: app.ApplicationID, Keys: keys}, err
}

// SubscribedApp is an application subscribed to the test API with keys at the
// application key manager.
func (e *Env) SubscribedApp(ctx context.Context) (App, error) {
	return e.subscribed.get(func() (App, error) {
		api, err := e.PublishedAPI(ctx)
		if err != nil {
			return App{}, fmt.Errorf("the test API is not published: %w", err)
		}
		return e.newApp(ctx, "apimconf_sub_"+e.Suffix, tier, &api)
	})
}

// UnsubscribedApp has keys but no subscription.
func (e *Env) UnsubscribedApp(ctx context.Context) (App, error) {
	return e.orphan.get(func() (App, error) { return e.newApp(ctx, "apimconf_nosub_"+e.Suffix, tier, nil) })
}

// AppToken issues a fresh application token at the application key manager
// (client_credentials), as a client would after generating keys.
func (e *Env) AppToken(ctx context.Context, app App) (string, error) {
	var tok oauth.Token
	to := e.Config.Timeouts
	err := e.poll(ctx, to.Scaled(to.TokenIssue), "application token", func() error {
		var err error
		tok, err = e.AppKM().ClientCredentials(ctx, app.Client())
		return err
	})
	return tok.AccessToken, err
}
