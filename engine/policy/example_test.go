package policy_test

import (
	"context"
	"fmt"

	"github.com/trustgate/trustgate/engine/policy"
)

// Check reports every problem of a set of bundles at once, each with its
// file and key, as `trustgate check` prints them.
func ExampleCheck() {
	problems := policy.Check(context.Background(), []string{"testdata/bundles/typo"}, policy.Options{ServerIssuer: "https://sts.example.com"})
	for _, p := range problems {
		fmt.Println(p)
	}
	// Output:
	// testdata/bundles/typo/data.yaml: trustgate.identities.deploy.ttl: want a positive duration such as "15m" or "2h", not "15 min"
	// testdata/bundles/typo/data.yaml: trustgate.identities.deploy.federations[0].provider: unknown provider "gitlb" (known: gitlab)
}

// Load compiles bundles with the embedded library; Evaluate then answers
// data.trustgate.decision for one verified token.
func ExampleLoad() {
	ctx := context.Background()
	p, err := policy.Load(ctx, []string{"testdata/bundles/team"}, policy.Options{ServerIssuer: "https://sts.test"})
	if err != nil {
		fmt.Println(err)
		return
	}
	prov, _ := p.ProviderByIssuer("https://gitlab.com")
	name, _ := p.IdentityByEmail("deploy@workload.example.com")
	fmt.Println(prov.Name, prov.Audiences, prov.MaxTokenLifetime, name)
	// Output: gitlab [https://sts.test] 24h0m0s deploy
}
