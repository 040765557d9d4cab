# Helpers shared by the default policy and the profiles: paths, hosts, URLs.
package rustchain.lib

import rego.v1

# A path with a `..` component could climb out of any root, so it is under none.
climbs(path) if {
	some part in split(path, "/")
	part == ".."
}

# `path` is `root` or lies below it (component-wise: /data does not cover /database).
path_under(path, root) if {
	not climbs(path)
	path == root
}

path_under(path, root) if {
	not climbs(path)
	startswith(path, concat("", [trim_suffix(root, "/"), "/"]))
}

# The host of `host` or `host:port`, lower-cased.
host_of(address) := lower(split(address, ":")[0])

# The port of `host:port`; undefined when none is given.
port_of(address) := parts[1] if {
	parts := split(address, ":")
	count(parts) == 2
}

host_glob(_, pattern) if pattern == "*"

host_glob(host, pattern) if host == lower(pattern)

host_glob(host, pattern) if {
	startswith(pattern, "*.")
	endswith(host, lower(trim_prefix(pattern, "*")))
}

# A pattern without a port grants every port; with one, only that port.
address_matches(address, pattern) if {
	host_glob(host_of(address), host_of(pattern))
	not port_of(pattern)
}

address_matches(address, pattern) if {
	host_glob(host_of(address), host_of(pattern))
	port_of(address) == port_of(pattern)
}

default_port := {"http": "80", "https": "443", "ws": "80", "wss": "443"}

# `host:port` of a URL (the scheme's port when none is written); undefined
# when the URL has no scheme or host, which callers treat as a denial.
url_address(url) := address if {
	is_string(url)
	parts := split(url, "://")
	count(parts) == 2
	authority := split(split(split(parts[1], "/")[0], "?")[0], "#")[0]
	hostport := split(authority, "@")[count(split(authority, "@")) - 1]
	hostport != ""
	address := with_port(lower(parts[0]), hostport)
}

with_port(_, hostport) := lower(hostport) if contains(hostport, ":")

with_port(scheme, hostport) := concat(":", [lower(hostport), default_port[scheme]]) if not contains(hostport, ":")

with_port(scheme, hostport) := lower(hostport) if {
	not contains(hostport, ":")
	not default_port[scheme]
}

# The `path` argument of a call, absolute: a relative path is taken below the
# first root the tool declares, since tools confined to a root (the `fs_*`
# built-ins) take paths relative to it. Undefined when there is none to check.
argument_path := p if {
	p := input.call.arguments.path
	is_string(p)
	startswith(p, "/")
}

argument_path := concat("/", [trim_suffix(roots[0], "/"), p]) if {
	p := input.call.arguments.path
	is_string(p)
	not startswith(p, "/")
	roots := array.concat(input.tool.permissions.fileRead, input.tool.permissions.fileWrite)
	count(roots) > 0
}

# The programs and hosts a tool declares, where `*` means "whatever the
# caller names": it stands for the program or URL host in the arguments, and
# stays `*` (which only a role granting everything grants) when they name none.
declared_commands contains c if {
	some c in input.tool.permissions.commands
	c != "*"
}

declared_commands contains "*" if {
	"*" in input.tool.permissions.commands
	not is_string(input.call.arguments.program)
}

declared_network contains a if {
	some a in input.tool.permissions.network
	a != "*"
}

declared_network contains "*" if {
	"*" in input.tool.permissions.network
	not url_address(input.call.arguments.url)
}
