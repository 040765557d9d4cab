# The read-only profile: nothing that writes, runs or sends, whatever the
# roles and the arguments.
package rustchain.profiles.read_only

import rego.v1

deny contains sprintf("read-only: tool `%s` is not marked read-only", [input.tool.name]) if {
	not input.tool.hints.readOnly
}

deny contains sprintf("read-only: tool `%s` declares writes (%s)", [input.tool.name, concat(", ", input.tool.permissions.fileWrite)]) if {
	count(input.tool.permissions.fileWrite) > 0
}

deny contains sprintf("read-only: tool `%s` runs programs (%s)", [input.tool.name, concat(", ", input.tool.permissions.commands)]) if {
	count(input.tool.permissions.commands) > 0
}

deny contains sprintf("read-only: tool `%s` uses the network (%s)", [input.tool.name, concat(", ", input.tool.permissions.network)]) if {
	count(input.tool.permissions.network) > 0
}

deny contains sprintf("read-only: tool `%s` reaches other systems (open world)", [input.tool.name]) if {
	input.tool.hints.openWorld
}

deny contains sprintf("read-only: tool `%s` may destroy data", [input.tool.name]) if {
	not input.tool.hints.readOnly
	input.tool.hints.destructive
}
