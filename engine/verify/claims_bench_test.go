package verify

import "testing"

var benchPayload = []byte(`{"namespace_id":"72","namespace_path":"my-group","project_id":"20","project_path":"my-group/app","user_id":"1","user_login":"sample-user","user_email":"sample-user@example.com","pipeline_id":"574","pipeline_source":"push","job_id":"302","ref":"main","ref_type":"branch","ref_path":"refs/heads/main","ref_protected":"true","runner_id":1,"runner_environment":"gitlab-hosted","sha":"714a629c0b401fdce83e847fc9589983fc6f46bc","jti":"235b3a54-b797-45c7-ae9a-f72d7bc6ef5b","iss":"https://gitlab.example.com","iat":1681395193,"nbf":1681395188,"exp":1681398793,"sub":"project_path:my-group/app:ref_type:branch:ref:main","aud":"https://sts.example.com"}`)

func BenchmarkParseClaims(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseClaims(benchPayload); err != nil {
			b.Fatal(err)
		}
	}
}
