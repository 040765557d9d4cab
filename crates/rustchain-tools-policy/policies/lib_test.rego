package rustchain.lib_test

import data.rustchain.lib
import rego.v1

test_path_under_is_component_wise if {
	lib.path_under("/data/x", "/data")
	lib.path_under("/data", "/data")
	not lib.path_under("/database", "/data")
	lib.path_under("/etc/x", "/")
}

test_dotdot_is_under_nothing if {
	not lib.path_under("/data/../etc/passwd", "/data")
	not lib.path_under("/data/..", "/")
}

test_url_address_adds_the_scheme_port if {
	lib.url_address("https://API.example.com/x?y=1") == "api.example.com:443"
	lib.url_address("http://user@svc.internal:8080/") == "svc.internal:8080"
	not lib.url_address("no-scheme")
}

test_address_patterns if {
	lib.address_matches("svc.internal:443", "*.internal")
	lib.address_matches("svc.internal:443", "*:443")
	not lib.address_matches("svc.internal:8080", "*:443")
	not lib.address_matches("evil-internal:443", "*.internal")
}
