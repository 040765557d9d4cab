# Validation messages, English. Every message here must exist in every
# other language (a test checks it).
at = at { $pointer }
at-top-level = at the top level
at-byte = at byte { $offset }

found-null = null
found-boolean = boolean { $value }
found-integer = integer { $value }
found-number = number { $value }
found-string = string { $value }
found-array = an array of { $count } items
found-object = an object with { $count } properties

type = expected { $expected }, found { $found }
required = the required property "{ $name }" is missing
additional-property = the property "{ $name }" is not allowed; remove it
additional-property-allowed = the property "{ $name }" is not allowed; the allowed properties are { $allowed }
minimum = { $value } is less than the minimum of { $limit }
maximum = { $value } is greater than the maximum of { $limit }
exclusive-minimum = { $value } must be greater than { $limit }
exclusive-maximum = { $value } must be less than { $limit }
multiple-of = { $value } is not a multiple of { $limit }
min-length = the string has { $count } characters, fewer than the minimum of { $limit }
max-length = the string has { $count } characters, more than the maximum of { $limit }
min-items = the array has { $count } items, fewer than the minimum of { $limit }
max-items = the array has { $count } items, more than the maximum of { $limit }
min-properties = the object has { $count } properties, fewer than the minimum of { $limit }
max-properties = the object has { $count } properties, more than the maximum of { $limit }
enum = { $value } is not one of { $options }
const = the value must be exactly { $expected }
pattern = { $value } does not match the pattern { $pattern }
format = { $value } is not a valid { $format }
format-explained = { $value } is not a valid { $format }: it must be { $why }
why-relative-path = a relative path: no leading / or \, no drive letter, no .. segment, no NUL byte
why-uri = an absolute URI whose scheme is one of: { $schemes }
unique-items = the array contains duplicate items; every item must be unique
false-schema = no value is allowed here; remove it
any-of = the value matches none of the { $count } allowed alternatives ({ $reasons })
any-of-option = option { $number }: { $reason }
one-of-multiple = the value matches more than one of the { $count } alternatives, but must match exactly one
not = the value must not match the schema { $schema }
property-names = a property name is not allowed: { $reason }
max-bytes = the arguments are { $bytes } bytes of JSON, more than the limit of { $limit } bytes
max-depth = the arguments nest arrays and objects deeper than the limit of { $limit } levels
max-string-chars = a string is longer than the limit of { $limit } characters
