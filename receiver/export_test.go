package receiver

// VariantRule is a variant rule as the tests see it.
type VariantRule struct {
	Name  string
	Match map[string]string
}

// VariantRules returns the package's variant rules by event name, in order,
// so that the tests can compare them with the catalogue's "match".
func VariantRules() map[string][]VariantRule {
	out := make(map[string][]VariantRule, len(eventTypes))
	for _, t := range eventTypes {
		rules := []VariantRule{}
		for _, v := range t.variants {
			rules = append(rules, VariantRule{v.name, v.match})
		}
		out[t.name] = rules
	}
	return out
}
