package rustchain.profiles.sox_test

import data.rustchain.profiles.sox
import rego.v1

base := {
	"tool": {
		"name": "t", "version": "1.0.0", "category": "file", "tags": [], "source": "plugin",
		"permissions": {"fileRead": [], "fileWrite": [], "network": [], "commands": []},
		"hints": {"readOnly": false, "destructive": true, "idempotent": false, "openWorld": true},
	},
	"call": {"id": "c1", "arguments": {}},
	"principal": {"id": "u", "roles": ["admin"]},
	"environment": {"profiles": ["sox"], "labels": {}},
}

tool(perms, args) := object.union(base, {
	"tool": object.union(base.tool, {"permissions": object.union(base.tool.permissions, perms)}),
	"call": {"id": "c1", "arguments": args},
})

test_internal_hosts_only if {
	count(sox.deny) == 0 with input as tool({"network": ["ledger.internal:443"]}, {"url": "https://ledger.internal/x"})
	count(sox.deny) > 0 with input as tool({"network": ["api.example.com:443"]}, {})
	count(sox.deny) > 0 with input as tool({"network": ["ledger.internal"]}, {"url": "https://example.com/"})
}

test_writes_only_under_approved_paths if {
	count(sox.deny) == 0 with input as tool({"fileWrite": ["/srv/approved"]}, {"path": "/srv/approved/q3.csv"})
	count(sox.deny) > 0 with input as tool({"fileWrite": ["/tmp"]}, {})
	count(sox.deny) > 0 with input as tool({"fileWrite": ["/srv/approved"]}, {"path": "/srv/approved/../../etc/x"})
}

test_commands_only_when_allowlisted if {
	count(sox.deny) == 0 with input as tool({"commands": ["git"]}, {"program": "git"})
	count(sox.deny) > 0 with input as tool({"commands": ["rm"]}, {})
	count(sox.deny) > 0 with input as tool({"commands": ["git"]}, {"program": "rm"})
}

test_every_call_gets_a_timeout if {
	300000 in sox.timeout_ms with input as base
}

test_wildcards_are_judged_by_the_arguments if {
	count(sox.deny) == 0 with input as tool({"network": ["*"]}, {"url": "https://ledger.internal/x"})
	count(sox.deny) > 0 with input as tool({"network": ["*"]}, {"url": "https://example.com/"})
	count(sox.deny) > 0 with input as tool({"network": ["*"]}, {})
	count(sox.deny) == 0 with input as tool({"commands": ["*"]}, {"program": "git"})
	count(sox.deny) > 0 with input as tool({"commands": ["*"]}, {"program": "curl"})
}

test_relative_write_paths_are_judged_below_the_tool_root if {
	count(sox.deny) == 0 with input as tool({"fileWrite": ["/srv/approved/app"]}, {"path": "out/report.txt"})
	count(sox.deny) > 0 with input as tool({"fileWrite": ["/srv/approved/app"]}, {"path": "../../../etc/x"})
}
