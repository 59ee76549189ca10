"""Compiles the FHIRPath invariants of the R4 definitions that can be decided from one object's own members
into the small expression table `walk.rs` evaluates as the object streams past (no tree, no FHIRPath engine at
run time).

The subset: `member.exists()`, `.empty()`, `.hasValue()`, `.count()`, `.not()`, `and`, `or`, `xor`, `implies`,
`=`/`!=` between presences, between a single-valued primitive member and a literal, `in ('a' | 'b')`,
`.startsWith('x')` and `.contains('x')` of a string member, `concept.coding.where(system = 'S' and code = 'c')
.exists()`, numbers (members, literals, sums of counts) compared,
two date/time members ordered (FHIRPath's partial-precision rules), and `%ucum`. Anything else (`where()`,
`resolve()`, `matches()`, paths through several levels) raises `Unsupported`, and the invariant is listed in model.rs as not evaluated, with the reason.
"""

import re

CONSTANTS = {"%ucum": "http://unitsofmeasure.org"}


class Unsupported(Exception):
    pass


TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^'\\]|\\.)*')|(?P<num>\d+(?:\.\d+)?)|(?P<op><=|>=|!=|!~|[=<>+\-|&(),.~*/])"
                   r"|(?P<id>%?[A-Za-z_][A-Za-z0-9_]*|`[^`]*`))")


def tokenize(text):
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise Unsupported(f"cannot read {text[pos:pos + 10]!r}")
        pos = m.end()
        kind = m.lastgroup
        out.append((kind, m.group(kind)))
    return out


class Parser:
    def __init__(self, text):
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self, value=None):
        if self.i >= len(self.tokens):
            return None
        tok = self.tokens[self.i]
        if value is None or tok[1] == value:
            return tok
        return None

    def take(self, value=None):
        tok = self.peek(value)
        if tok is None:
            raise Unsupported(f"expected {value!r}")
        self.i += 1
        return tok

    def parse(self):
        node = self.binary(0)
        if self.i != len(self.tokens):
            raise Unsupported(f"unexpected {self.tokens[self.i][1]!r}")
        return node

    LEVELS = [("implies",), ("or", "xor"), ("and",), ("in", "contains"), ("=", "!=", "~", "!~"),
              ("<", ">", "<=", ">="), ("|",), ("+", "-", "&")]

    def binary(self, level):
        if level == len(self.LEVELS):
            return self.term()
        node = self.binary(level + 1)
        while True:
            tok = self.peek()
            if tok and tok[1] in self.LEVELS[level] and tok[0] in ("op", "id"):
                self.i += 1
                node = (tok[1], node, self.binary(level + 1))
            else:
                return node

    def term(self):
        node = self.primary()
        while self.peek("."):
            self.take(".")
            name = self.take()[1]
            if self.peek("("):
                node = ("call", node, name, self.args())
            else:
                node = ("member", node, name)
        return node

    def args(self):
        self.take("(")
        args = []
        while not self.peek(")"):
            args.append(self.binary(0))
            if self.peek(","):
                self.take(",")
        self.take(")")
        return args

    def primary(self):
        kind, value = self.take()
        if value == "(":
            node = self.binary(0)
            self.take(")")
            return node
        if kind == "str":
            return ("lit", value[1:-1])
        if kind == "num":
            return ("lit", float(value) if "." in value else int(value))
        if value in ("true", "false"):
            return ("lit", value == "true")
        if value in CONSTANTS:
            return ("lit", CONSTANTS[value])
        if kind == "id" and value.startswith("%"):
            raise Unsupported(f"the variable {value}")
        if kind == "id":
            if self.peek("("):
                return ("call", ("this",), value, self.args())
            return ("member", ("this",), value)
        raise Unsupported(f"unexpected {value!r}")


class Compiler:
    """Compiles against one type: `members` are its element dicts in table order, `groups` its choice bases."""

    def __init__(self, type_name, members, groups):
        self.type_name = type_name
        self.members = members
        self.groups = groups
        self.watched = set()  # member positions whose value or count the walk must keep

    def member(self, node):
        """The member a path node names: ("member", i) or ("choice", group)."""
        if node[0] != "member":
            raise Unsupported("not a member of the object")
        base, name = node[1], node[2]
        if base != ("this",):
            if base[0] == "member" and base[1] == ("this",) and self.type_name.endswith(base[2]) \
                    and "." not in self.type_name:
                pass  # `Appointment.status` written with the resource's own name
            else:
                raise Unsupported("a path through more than one level")
        for i, m in enumerate(self.members):
            if m["name"] == name and m["choice"] == 0:
                return ("member", i)
        if name in self.groups:
            return ("choice", self.groups.index(name) + 1)
        raise Unsupported(f"{name} is not a member of {self.type_name}")

    def boolean(self, node):
        op = node[0]
        if op in ("and", "or", "xor", "implies"):
            return f"Expr::{op.capitalize()}(&{self.boolean(node[1])}, &{self.boolean(node[2])})"
        if op == "call":
            _, base, name, args = node
            if args and name not in ("startsWith", "contains"):
                raise Unsupported(f"{name}() with arguments")
            if name == "not":
                return f"Expr::Not(&{self.boolean(base)})"
            if name in ("exists", "empty") and base[0] == "call" and base[2] == "where":
                atom = self.has_coding(base)
                return atom if name == "exists" else f"Expr::Not(&{atom})"
            if name in ("exists", "empty"):
                kind, index = self.member(base)
                atom = f"Expr::Exists({index})" if kind == "member" else f"Expr::Chosen({index})"
                return atom if name == "exists" else f"Expr::Not(&{atom})"
            if name in ("startsWith", "contains"):
                if len(args) != 1 or args[0][0] != "lit" or not isinstance(args[0][1], str):
                    raise Unsupported(f"{name}() of something other than a string literal")
                if name == "contains" and args[0][1] == "." and base[0] == "call" and base[2] == "toString":
                    # `number.toString().contains('.')`: the number was written with a fraction.
                    kind, index = self.operand(base[1])
                    if kind != "num" or not index.startswith("Expr::Number("):
                        raise Unsupported("toString() of something other than a number member")
                    return f"Expr::Fractional({index[len('Expr::Number('):-1]})"
                value = self.operand(base)
                if value[0] != "str":
                    raise Unsupported(f"{name}() of a non-string")
                rust = "StartsWith" if name == "startsWith" else "Contains"
                return f"Expr::{rust}(&{value[1]}, {rust_str(args[0][1])})"
            if name == "hasValue":
                kind, index = self.member(base)
                if kind != "member" or self.members[index]["kind"][0] != "prim":
                    raise Unsupported("hasValue() of a non-primitive")
                return f"Expr::HasValue({index})"
            raise Unsupported(f"the function {name}()")
        if op in ("=", "!="):
            left, right = self.operand(node[1]), self.operand(node[2])
            if left[0] != right[0] or left[0] == "time":
                raise Unsupported("a comparison of different kinds")
            return f"Expr::{'Eq' if op == '=' else 'Ne'}(&{left[1]}, &{right[1]})"
        if op in ("<", ">", "<=", ">="):
            left, right = self.operand(node[1]), self.operand(node[2])
            if left[0] != right[0] or left[0] not in ("num", "time"):
                raise Unsupported("an ordering of values other than two numbers or two dates")
            if op in ("<", ">="):  # written as Gt and Le with the sides swapped
                left, right = right, left
            name = {"<": "Gt", ">": "Gt", "<=": "Le", ">=": "Le"}[op]
            return f"Expr::{name}(&{left[1]}, &{right[1]})"
        if op == "in":
            if node[1][0] == "member":
                kind, index = self.member(node[1])
                m = self.members[index] if kind == "member" else None
                if m is not None and m["many"] and m["kind"] == ("prim", "code"):
                    # A repeating code `in` a list: true when any of its codes is (FHIRPath leaves a
                    # collection of several undefined here; validators read it this way).
                    self.watched.add(index)
                    values = self.strings(node[2])
                    return f"Expr::AnyIn({index}, &[{', '.join(rust_str(v) for v in values)}])"
            left = self.operand(node[1])
            if left[0] != "str":
                raise Unsupported("in over a non-string")
            values = self.strings(node[2])
            return f"Expr::In(&{left[1]}, &[{', '.join(rust_str(v) for v in values)}])"
        if op == "member":
            kind, value = self.operand(node)
            if kind != "bool":
                raise Unsupported("a non-boolean member used as a condition")
            return value
        raise Unsupported(f"the operator {op}")

    def has_coding(self, node):
        """`concept.coding.where(system = 'S' and (code = 'a' or code = 'b')).exists()`, the common way R4's
        invariants test a CodeableConcept, as `HasCoding(member, system, codes)`."""
        _, target, _, args = node
        if len(args) != 1 or target[0] != "member" or target[2] != "coding":
            raise Unsupported("where() other than on a CodeableConcept's coding")
        kind, index = self.member(target[1])
        m = self.members[index] if kind == "member" else None
        if m is None or m["many"] or m["kind"] != ("complex", "CodeableConcept"):
            raise Unsupported("where() on a repeating or non-CodeableConcept member")
        system, codes = None, []

        def condition(n):
            nonlocal system
            if n[0] in ("and",):
                condition(n[1])
                condition(n[2])
            elif n[0] == "or":
                codes.extend(self.code_choice(n))
            elif n[0] == "=" and n[1] == ("member", ("this",), "system") and n[2][0] == "lit":
                system = n[2][1]
            else:
                codes.extend(self.code_choice(n))

        condition(args[0])
        if system is None or not codes:
            raise Unsupported("where() without one system and its codes")
        self.watched.add(index)
        return f"Expr::HasCoding({index}, {rust_str(system)}, &[{', '.join(rust_str(c) for c in codes)}])"

    def code_choice(self, n):
        if n[0] == "or":
            return self.code_choice(n[1]) + self.code_choice(n[2])
        if n[0] == "=" and n[1] == ("member", ("this",), "code") and n[2][0] == "lit":
            return [n[2][1]]
        raise Unsupported("where() with a condition other than system and code")

    def strings(self, node):
        if node[0] == "lit" and isinstance(node[1], str):
            return [node[1]]
        if node[0] == "|":
            return self.strings(node[1]) + self.strings(node[2])
        raise Unsupported("a list that is not string literals")

    def operand(self, node):
        """(kind, rust) for a value: "bool", "num", "str" or "time" (a date, dateTime, instant or time)."""
        if node[0] == "lit":
            v = node[1]
            if isinstance(v, bool):
                return ("bool", f"Expr::Bool({str(v).lower()})")
            if isinstance(v, (int, float)):
                return ("num", f"Expr::Num({float(v)!r})")
            return ("str", f"Expr::Str({rust_str(v)})")
        if node[0] == "+":
            left, right = self.operand(node[1]), self.operand(node[2])
            if left[0] != "num" or right[0] != "num":
                raise Unsupported("+ of non-numbers")
            return ("num", f"Expr::Add(&{left[1]}, &{right[1]})")
        if node[0] == "call" and node[2] == "count" and not node[3]:
            kind, index = self.member(node[1])
            if kind != "member":
                raise Unsupported("count() of a choice")
            if self.members[index]["many"]:
                self.watched.add(index)
            return ("num", f"Expr::Count({index})")
        if node[0] == "member":
            kind, index = self.member(node)
            m = self.members[index] if kind == "member" else None
            if m is None or m["many"] or m["kind"][0] != "prim":
                raise Unsupported("the value of a repeating or non-primitive member")
            prim = m["kind"][1]
            self.watched.add(index)
            if prim == "boolean":
                return ("bool", f"Expr::Value({index})")
            if prim in ("integer", "positiveInt", "unsignedInt", "decimal"):
                return ("num", f"Expr::Number({index})")
            if prim in ("date", "dateTime", "instant", "time"):
                return ("time", f"Expr::Temporal({index})")
            return ("str", f"Expr::Value({index})")
        return ("bool", self.boolean(node))


def rust_str(s):
    import json
    return json.dumps(s)


def compile_invariant(type_name, members, groups, expression):
    """The Rust `Expr` of an expression and the member positions it watches, or raises Unsupported."""
    compiler = Compiler(type_name, members, groups)
    rust = compiler.boolean(Parser(expression).parse())
    return rust, compiler.watched
