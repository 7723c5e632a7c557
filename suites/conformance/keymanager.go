package conformance

import (
	. "github.com/onsi/gomega"
)

func keyManagerChecks() []Check {
	return []Check{{
		ID: "km.is7-registration", Description: "WSO2 Identity Server 7 registers as a key manager of type WSO2-IS-7 through the Admin API and is listed enabled",
		Requires: []Capability{IS7KM}, Labels: []string{"km", "smoke"}, Owner: "apim-conformance",
		Body: func(t *T) {
			km, err := t.Env.ISKeyManager(t.Ctx)
			t.Expect(err).NotTo(HaveOccurred())
			admin, err := t.Env.Admin(t.Ctx)
			t.Require(err, "portal token")
			list, err := admin.ListKeyManagers(t.Ctx)
			t.Expect(err).NotTo(HaveOccurred())
			t.Expect(list).To(ContainElement(SatisfyAll(
				HaveField("Name", km.Name), HaveField("Type", "WSO2-IS-7"), HaveField("Enabled", true))), "key managers listed")
			t.Expect(list).To(ContainElement(HaveField("Name", "Resident Key Manager")), "the resident key manager must stay listed")
		},
	}}
}
