package trustgate.custom

deny contains sprintf("project %s is blocked", [input.token.project_path]) if {
	input.token.project_path == "my-group/blocked"
}
