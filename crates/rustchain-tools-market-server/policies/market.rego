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
	"market.purchase": "user",
	"market.decide_finding": "admin",
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

# A security finding: users and security reviewers report them; the
# reporter, the package's publisher and security reviewers read one;
# security reviewers list them all.
allow if {
	input.tool.name == "market.report_finding"
	some role in input.principal.roles
	role in {"user", "security-reviewer"}
}

allow if {
	input.tool.name == "market.finding"
	input.principal.id in {input.call.arguments.reporter, input.call.arguments.publisher}
}

allow if {
	input.tool.name in {"market.finding", "market.findings"}
	"security-reviewer" in input.principal.roles
}

# A sold package's files (a version with a purchase price): an account
# that bought the package, and its publisher.
allow if {
	input.tool.name == "market.download_sold"
	input.call.arguments.purchased == true
}

allow if {
	input.tool.name == "market.download_sold"
	input.call.arguments.publisher == input.principal.id
}

# Yanking a version: its publisher.
allow if {
	input.tool.name == "market.yank"
	"publisher" in input.principal.roles
	input.call.arguments.publisher == input.principal.id
}

# Recommendations from an account's use: that account.
allow if {
	input.tool.name == "market.recommendations"
	input.call.arguments.account == input.principal.id
}

# A ledger statement: the account's owner.
allow if {
	input.tool.name == "market.statement"
	input.call.arguments.owner == input.principal.id
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

unmet contains msg if {
	input.tool.name == "market.report_finding"
	msg := "market.report_finding needs the role `user` or `security-reviewer`"
}

unmet contains msg if {
	input.tool.name in {"market.finding", "market.findings"}
	msg := sprintf("%s is for the reporter, the package's publisher and security reviewers", [input.tool.name])
}

unmet contains msg if {
	input.tool.name == "market.yank"
	msg := sprintf("only the publisher of %s@%s may yank it", [input.call.arguments.name, input.call.arguments.version])
}

unmet contains msg if {
	input.tool.name == "market.download_sold"
	msg := sprintf("%s is sold: its files are for accounts that bought it and its publisher", [input.call.arguments.package])
}

unmet contains msg if {
	input.tool.name == "market.statement"
	msg := sprintf("the statement of %s is for its owner", [input.call.arguments.account])
}

unmet contains msg if {
	input.tool.name == "market.recommendations"
	msg := sprintf("the recommendations of %s are for that account", [input.call.arguments.account])
}
