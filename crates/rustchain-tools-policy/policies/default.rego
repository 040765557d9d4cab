# The shipped default policy: role-based access per tool category and per
# declared permission, from the role table in data.rustchain.grants
# (grants.json). Change who may do what by editing that table, not this file.
package rustchain.authz

# Every call evaluates this policy, so its common path is kept short: each
# rule evaluated costs as much as dozens of comparisons. Hence helper rules
# are imported by their full path (`lib.rule` through the package import
# makes regorus's VM evaluate the whole package), and cheap guards on the
# input come before references to rules. (Data is read through rules such as
# `grants`: with regorus 0.14, imported data read wrong when a module was
# loaded twice, as `policy test` of a copy of these files does.)
import data.rustchain.lib
import data.rustchain.lib.argument_path
import data.rustchain.lib.declared_commands
import data.rustchain.lib.declared_network
import rego.v1

grants := data.rustchain.grants

# The principal's roles: those the call carries plus those the table gives its id.
roles contains role if some role in input.principal.roles

roles contains role if some role in grants.principals[input.principal.id]

# What the call needs, one entry per grant it must find in some role. Read
# only to explain a denial; `allow` checks the same grants more directly.
needs contains {"kind": "category", "value": input.tool.category}

needs contains {"kind": "fileRead", "value": p} if some p in input.tool.permissions.fileRead

needs contains {"kind": "fileWrite", "value": p} if some p in input.tool.permissions.fileWrite

needs contains {"kind": "network", "value": a} if some a in declared_network

needs contains {"kind": "commands", "value": c} if some c in declared_commands

needs contains {"kind": "mutating", "value": true} if not input.tool.hints.readOnly

needs contains {"kind": "openWorld", "value": true} if input.tool.hints.openWorld

needs contains {"kind": "fileWrite", "value": p} if some p in argument_paths("fileWrite")

needs contains {"kind": "fileRead", "value": p} if some p in argument_paths("fileRead")

needs contains {"kind": "network", "value": a} if some a in argument_addresses

needs contains {"kind": "commands", "value": p} if some p in argument_programs

# The arguments too: the path a tool writes (or, when it only reads, reads),
# the URL it fetches, the program it runs.
argument_paths(kind) := {p |
	argument_path_kind == kind
	p := argument_path
}

argument_path_kind := "fileWrite" if count(input.tool.permissions.fileWrite) > 0

argument_path_kind := "fileRead" if {
	count(input.tool.permissions.fileWrite) == 0
	count(input.tool.permissions.fileRead) > 0
}

argument_addresses := {a |
	count(input.tool.permissions.network) > 0
	a := lib.url_address(input.call.arguments.url)
}

argument_programs := {p |
	count(input.tool.permissions.commands) > 0
	p := input.call.arguments.program
	is_string(p)
}

role_grants(role, need) if {
	need.kind == "category"
	some c in object.get(role, "categories", [])
	c in {"*", need.value}
}

role_grants(role, need) if {
	need.kind in {"fileRead", "fileWrite"}
	some root in object.get(role, need.kind, [])
	lib.path_under(need.value, root)
}

role_grants(role, need) if {
	need.kind == "network"
	some pattern in object.get(role, "network", [])
	lib.address_matches(need.value, pattern)
}

role_grants(role, need) if {
	need.kind == "commands"
	some program in object.get(role, "commands", [])
	program in {"*", need.value}
}

role_grants(role, need) if {
	need.kind in {"mutating", "openWorld"}
	object.get(role, need.kind, false) == true
}

granted(need) if {
	some name in roles
	role_grants(grants.roles[name], need)
}

unmet_needs contains need if {
	some need in needs
	not granted(need)
}

# A harmless tool (read-only, closed-world, declaring nothing) needs only
# its category: the common case, checked first and cheaply (written out in
# `allow` rather than through `harmless`, one rule fewer on every call). The
# permissions are compared as one object: with an unexpected field they do
# not match, and the rule below decides instead, the same way.
harmless if {
	input.tool.hints.readOnly == true
	input.tool.hints.openWorld == false
	input.tool.permissions == {"fileRead": [], "fileWrite": [], "network": [], "commands": []}
}

allow if {
	input.tool.hints.readOnly == true
	input.tool.hints.openWorld == false
	input.tool.permissions == {"fileRead": [], "fileWrite": [], "network": [], "commands": []}
	category_granted
}

# Otherwise allowed when the roles grant every need. Written need kind by
# need kind (rather than over `needs`) because every call evaluates it.
allow if {
	not harmless
	category_granted
	every p in input.tool.permissions.fileRead {
		path_granted("fileRead", p)
	}
	every p in input.tool.permissions.fileWrite {
		path_granted("fileWrite", p)
	}
	every a in declared_network {
		address_granted(a)
	}
	every c in declared_commands {
		command_granted(c)
	}
	flag_granted("mutating", not_read_only)
	flag_granted("openWorld", input.tool.hints.openWorld)
	every p in argument_paths("fileWrite") {
		path_granted("fileWrite", p)
	}
	every p in argument_paths("fileRead") {
		path_granted("fileRead", p)
	}
	every a in argument_addresses {
		address_granted(a)
	}
	every p in argument_programs {
		command_granted(p)
	}
}

default not_read_only := true

not_read_only := false if input.tool.hints.readOnly == true

# Some role of the principal grants the tool's category (or every one).
category_granted if {
	some name in roles
	"*" in grants.roles[name].categories
}

category_granted if {
	some name in roles
	input.tool.category in grants.roles[name].categories
}

path_granted(kind, path) if {
	some name in roles
	some root in object.get(grants.roles[name], kind, [])
	lib.path_under(path, root)
}

address_granted(address) if {
	some name in roles
	some pattern in object.get(grants.roles[name], "network", [])
	lib.address_matches(address, pattern)
}

command_granted(program) if {
	some name in roles
	some granted_program in object.get(grants.roles[name], "commands", [])
	granted_program in {"*", program}
}

flag_granted(_, needed) if needed == false

flag_granted(flag, needed) if {
	needed == true
	some name in roles
	object.get(grants.roles[name], flag, false) == true
}

# Why nothing allows the call, and which roles would: shown only when no rule
# allows it.
unmet contains msg if {
	some need in unmet_needs
	would := sort([name | some name, role in grants.roles; role_grants(role, need)])
	msg := sprintf("%s; granted by role %s (principal `%s` has %s)", [
		describe(need),
		or_none(would),
		input.principal.id,
		or_none(sort([r | some r in roles])),
	])
}

or_none(names) := concat(", ", names) if count(names) > 0

or_none(names) := "none" if count(names) == 0

describe(need) := sprintf("tool category `%s` is not granted", [need.value]) if need.kind == "category"

describe(need) := sprintf("reading `%s` is not granted", [need.value]) if need.kind == "fileRead"

describe(need) := sprintf("writing `%s` is not granted", [need.value]) if need.kind == "fileWrite"

describe(need) := sprintf("network access to `%s` is not granted", [need.value]) if need.kind == "network"

describe(need) := sprintf("running `%s` is not granted", [need.value]) if need.kind == "commands"

describe(need) := "tools that change things (not marked read-only) are not granted" if need.kind == "mutating"

describe(need) := "open-world tools (reaching other systems) are not granted" if need.kind == "openWorld"

# An argument path outside every root the tool declares is refused whatever
# the roles: the tool said where it works.
deny contains msg if {
	is_string(input.call.arguments.path)
	p := argument_path
	roots := array.concat(input.tool.permissions.fileRead, input.tool.permissions.fileWrite)
	count(roots) > 0
	not under_any(p, roots)
	msg := sprintf("argument `path` (%s) is outside the paths the tool declares (%s)", [p, concat(", ", roots)])
}

deny contains msg if {
	url := input.call.arguments.url
	count(input.tool.permissions.network) > 0
	not lib.url_address(url)
	msg := sprintf("argument `url` (%v) has no host the policy can check", [url])
}

under_any(p, roots) if {
	some root in roots
	lib.path_under(p, root)
}

# Secrets in arguments are kept out of the audit record.
redact contains sprintf("/%s", [key]) if {
	some key in input.call.argumentNames
	grants.redactArguments[lower(key)]
}
