package config

import (
	"fmt"

	"github.com/trustgate/trustgate/engine/policy"
	"github.com/trustgate/trustgate/engine/weburl"
)

// shadowProblems checks shadow_bundles and shadow_sample_rate. A local
// shadow bundle is not looked for here: one that is missing or does not
// load is reported at run time and changes nothing for callers.
func (c *Config) shadowProblems() problemList {
	var p problemList
	for i, b := range c.ShadowBundles {
		if b == "" {
			p.add(fmt.Sprintf("shadow_bundles[%d]", i), "is empty")
			continue
		}
		if policy.IsRemote(b) {
			if err := weburl.Check(b, c.AllowInsecureIssuers); err != nil {
				p.add(fmt.Sprintf("shadow_bundles[%d]", i), "%v", err)
			}
		}
	}
	if c.ShadowSampleRate < 0 || c.ShadowSampleRate > 1 {
		p.add("shadow_sample_rate", "must be in (0, 1], not %g", c.ShadowSampleRate)
	}
	if c.ShadowSampleRate != 0 && len(c.ShadowBundles) == 0 {
		p.add("shadow_sample_rate", "no shadow_bundles: nothing would be sampled")
	}
	return p
}
