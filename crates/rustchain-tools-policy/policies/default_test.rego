package rustchain.authz_test

import data.rustchain.authz
import rego.v1

harmless := {
	"tool": {
		"name": "text.word_count", "version": "1.0.0", "category": "text", "tags": [], "source": "builtin",
		"permissions": {"fileRead": [], "fileWrite": [], "network": [], "commands": []},
		"hints": {"readOnly": true, "destructive": false, "idempotent": true, "openWorld": false},
	},
	"call": {"id": "c1", "arguments": {"text": "a b"}},
	"principal": {"id": "local", "roles": []},
	"environment": {"profiles": [], "labels": {}},
}

writer := object.union(harmless, {"tool": object.union(harmless.tool, {
	"name": "files.write", "category": "file",
	"permissions": {"fileRead": [], "fileWrite": ["/tmp"], "network": [], "commands": []},
	"hints": {"readOnly": false, "destructive": true, "idempotent": false, "openWorld": false},
})})

fetcher := object.union(harmless, {"tool": object.union(harmless.tool, {
	"name": "net.fetch", "category": "network",
	"permissions": {"fileRead": [], "fileWrite": [], "network": ["*:443"], "commands": []},
	"hints": {"readOnly": true, "destructive": false, "idempotent": true, "openWorld": true},
})})

with_principal(doc, id, roles) := object.union(doc, {"principal": {"id": id, "roles": roles}})

with_args(doc, args) := object.union(doc, {"call": {"id": "c1", "arguments": args, "argumentNames": sort([k | some k, _ in args])}})

test_local_runs_harmless_tools if {
	authz.allow with input as harmless
}

test_unknown_principal_without_roles_runs_nothing if {
	not authz.allow with input as with_principal(harmless, "someone", [])
}

test_local_may_not_write_and_is_told_which_role_would if {
	not authz.allow with input as writer
	some msg in authz.unmet with input as writer
	contains(msg, "writing `/tmp` is not granted; granted by role admin, editor, operator")
}

test_editor_writes_under_granted_paths if {
	authz.allow with input as with_args(with_principal(writer, "u", ["editor"]), {"path": "/tmp/out.txt"})
}

test_editor_may_not_write_outside_the_tool_roots if {
	doc := with_args(with_principal(writer, "u", ["editor"]), {"path": "/etc/passwd"})
	some msg in authz.deny with input as doc
	contains(msg, "outside the paths the tool declares")
}

test_dotdot_in_a_path_is_refused if {
	doc := with_args(with_principal(writer, "u", ["editor"]), {"path": "/tmp/../etc/passwd"})
	not authz.allow with input as doc
}

test_network_needs_integrator if {
	not authz.allow with input as fetcher
	doc := with_args(with_principal(fetcher, "u", ["integrator"]), {"url": "https://example.com/"})
	authz.allow with input as doc
}

test_integrator_may_not_use_other_ports if {
	doc := with_args(with_principal(fetcher, "u", ["integrator"]), {"url": "https://example.com:8443/"})
	not authz.allow with input as doc
}

test_an_unparsable_url_is_denied if {
	doc := with_args(with_principal(fetcher, "u", ["admin"]), {"url": "not a url"})
	count(authz.deny) > 0 with input as doc
}

test_secret_arguments_are_redacted if {
	"/Password" in authz.redact with input as with_args(harmless, {"text": "x", "Password": "p"})
}

test_the_role_table_is_data if {
	authz.allow with input as writer with data.rustchain.grants.principals.local as ["editor"]
}

rooted_reader := object.union(harmless, {"tool": object.union(harmless.tool, {
	"name": "fs_read", "category": "file",
	"permissions": {"fileRead": ["/srv/project"], "fileWrite": [], "network": [], "commands": []},
	"hints": {"readOnly": true, "destructive": false, "idempotent": true, "openWorld": false},
})})

runner := object.union(harmless, {"tool": object.union(harmless.tool, {
	"name": "cmd_run", "category": "process",
	"permissions": {"fileRead": [], "fileWrite": [], "network": [], "commands": ["*"]},
	"hints": {"readOnly": false, "destructive": true, "idempotent": false, "openWorld": true},
})})

any_fetcher := object.union(fetcher, {"tool": object.union(fetcher.tool, {
	"permissions": {"fileRead": [], "fileWrite": [], "network": ["*"], "commands": []},
})})

test_a_relative_path_is_checked_below_the_tool_root if {
	authz.allow with input as with_args(with_principal(rooted_reader, "u", ["analyst"]), {"path": "notes/a.txt"})
	doc := with_args(with_principal(rooted_reader, "u", ["analyst"]), {"path": "../../etc/passwd"})
	not authz.allow with input as doc
	some msg in authz.deny with input as doc
	contains(msg, "outside the paths the tool declares")
}

test_a_wildcard_program_stands_for_the_one_the_call_names if {
	authz.allow with input as with_args(with_principal(runner, "u", ["operator"]), {"program": "git"})
	doc := with_args(with_principal(runner, "u", ["operator"]), {"program": "rm"})
	not authz.allow with input as doc
	some msg in authz.unmet with input as doc
	contains(msg, "running `rm` is not granted")
}

test_a_wildcard_program_with_no_program_named_needs_everything if {
	not authz.allow with input as with_args(with_principal(runner, "u", ["operator"]), {})
	authz.allow with input as with_args(with_principal(runner, "u", ["admin"]), {})
}

test_a_wildcard_host_stands_for_the_url_the_call_names if {
	authz.allow with input as with_args(with_principal(any_fetcher, "u", ["integrator"]), {"url": "https://example.com/x"})
	not authz.allow with input as with_args(with_principal(any_fetcher, "u", ["integrator"]), {"url": "http://example.com:8080/"})
	not authz.allow with input as with_args(with_principal(any_fetcher, "u", ["integrator"]), {})
}

test_an_unexpected_permissions_field_changes_nothing if {
	extra := {"fileRead": [], "fileWrite": [], "network": [], "commands": [], "other": ["x"]}
	authz.allow with input as object.union(harmless, {"tool": object.union(harmless.tool, {"permissions": extra})})
}
