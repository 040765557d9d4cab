# Who may do what in the market. The market server asks before every
# action: input.tool.name is the action ("market.submit", ...),
# input.principal the account (its id and roles), input.call.arguments
# what the action acts on. Replace this file (market serve --policy DIR)
# to change who may do what.
package rustchain.authz

import rego.v1

# The role each action needs; an admin may do everything.
needs := {
	"market.add_account": "admin",
	"market.link_account": "admin",
	"market.add_key": "publisher",
	"market.submit": "publisher",
	"market.review.security": "security-reviewer",
	"market.review.quality": "quality-reviewer",
	"market.report_usage": "user",
	"market.rate": "user",
}

reviewer_roles := {"security-reviewer", "quality-reviewer"}

allow if "admin" in input.principal.roles

allow if needs[input.tool.name] in input.principal.roles

# The review queue: any reviewer.
allow if {
	input.tool.name == "market.queue"
	some role in input.principal.roles
	role in reviewer_roles
}

# A submission's status: its publisher, or a reviewer.
allow if {
	input.tool.name == "market.submission"
	input.call.arguments.publisher == input.principal.id
}

allow if {
	input.tool.name == "market.submission"
	some role in input.principal.roles
	role in reviewer_roles
}

# A publisher's list of its own submissions: that publisher only.
allow if {
	input.tool.name == "market.submissions"
	input.call.arguments.publisher == input.principal.id
}

# A publisher acts only as itself, whatever its roles.
deny contains msg if {
	input.tool.name in {"market.submit", "market.add_key"}
	input.call.arguments.publisher != input.principal.id
	msg := sprintf("`%s` may not act as publisher `%s`", [input.principal.id, input.call.arguments.publisher])
}

unmet contains msg if {
	role := needs[input.tool.name]
	msg := sprintf("%s needs the role `%s`", [input.tool.name, role])
}

unmet contains msg if {
	input.tool.name in {"market.queue", "market.submission"}
	msg := sprintf("%s needs a reviewer role (security-reviewer or quality-reviewer)", [input.tool.name])
}

unmet contains msg if {
	input.tool.name == "market.submissions"
	input.call.arguments.publisher != input.principal.id
	msg := sprintf("the submissions of `%s` are for that publisher only", [input.call.arguments.publisher])
}
