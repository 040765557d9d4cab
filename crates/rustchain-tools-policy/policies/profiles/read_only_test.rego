package rustchain.profiles.read_only_test

import data.rustchain.profiles.read_only
import rego.v1

reader := {
	"tool": {
		"name": "t", "version": "1.0.0", "category": "text", "tags": [], "source": "builtin",
		"permissions": {"fileRead": ["/data"], "fileWrite": [], "network": [], "commands": []},
		"hints": {"readOnly": true, "destructive": false, "idempotent": true, "openWorld": false},
	},
	"call": {"id": "c1", "arguments": {}},
	"principal": {"id": "u", "roles": ["admin"]},
	"environment": {"profiles": ["read-only"], "labels": {}},
}

with_tool(fields) := object.union(reader, {"tool": object.union(reader.tool, fields)})

test_readers_pass if {
	count(read_only.deny) == 0 with input as reader
}

test_writers_runners_and_senders_are_denied if {
	count(read_only.deny) > 0 with input as with_tool({"permissions": {"fileRead": [], "fileWrite": ["/tmp"], "network": [], "commands": []}})
	count(read_only.deny) > 0 with input as with_tool({"permissions": {"fileRead": [], "fileWrite": [], "network": [], "commands": ["git"]}})
	count(read_only.deny) > 0 with input as with_tool({"permissions": {"fileRead": [], "fileWrite": [], "network": ["a:443"], "commands": []}})
	count(read_only.deny) > 0 with input as with_tool({"hints": {"readOnly": false, "destructive": false, "idempotent": true, "openWorld": false}})
	count(read_only.deny) > 0 with input as with_tool({"hints": {"readOnly": true, "destructive": false, "idempotent": true, "openWorld": true}})
}
