# The SOX compliance profile: no network except internal hosts, writes only
# under approved paths, no program unless allowlisted. It only restricts: the
# default policy (or yours) must still allow the call. Settings in
# data.rustchain.settings.sox (profiles/sox.json).
package rustchain.profiles.sox

# Imports by full path, and cheap guards on the input before references to
# rules, keep the common path short (see default.rego).
import data.rustchain.lib
import data.rustchain.lib.argument_path
import data.rustchain.lib.declared_commands
import data.rustchain.lib.declared_network
import rego.v1

settings := data.rustchain.settings.sox

internal(address) if {
	some pattern in settings.internalHosts
	lib.address_matches(address, pattern)
}

approved(path) if {
	some root in settings.approvedWritePaths
	lib.path_under(path, root)
}

deny contains sprintf("sox: network access to `%s` is not to an internal host", [a]) if {
	input.tool.permissions.network != []
	some a in declared_network
	not internal(a)
}

deny contains sprintf("sox: URL `%s` is not on an internal host", [url]) if {
	url := input.call.arguments.url
	count(input.tool.permissions.network) > 0
	not internal(lib.url_address(url))
}

deny contains sprintf("sox: writing `%s` is outside the approved paths", [p]) if {
	some p in input.tool.permissions.fileWrite
	not approved(p)
}

deny contains sprintf("sox: writing `%s` is outside the approved paths", [p]) if {
	input.tool.permissions.fileWrite != []
	is_string(input.call.arguments.path)
	p := argument_path
	not approved(p)
}

deny contains sprintf("sox: program `%s` is not allowlisted", [c]) if {
	input.tool.permissions.commands != []
	some c in declared_commands
	not c in settings.allowedCommands
}

deny contains sprintf("sox: program `%s` is not allowlisted", [p]) if {
	p := input.call.arguments.program
	count(input.tool.permissions.commands) > 0
	not p in settings.allowedCommands
}

# Every call is bounded in time (secrets are redacted by the default policy).
timeout_ms contains settings.maxTimeoutMs
