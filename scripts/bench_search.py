#!/usr/bin/env python3
"""Benchmarks the model-free `search` proposer (not a test; run by hand, figures go to the README).

Builds a corpus of small programs written for this benchmark, each with one known one-line bug
and its tests (Python with unittest, Rust with cargo test, JavaScript with `node --test`, Go with
`go test`), runs `pp run TEST --provider search
--json` on each, and reports per program: proven, correct (the proven file equals the known fix,
or passes the program's held-back tests, which pp never sees), trials and seconds. Programs are
tagged `op` when one of search's operators can fix the bug and `out` when none can (a missing
statement, a wrong string or function name): the goals are >= 80 % proven on `op` with a median
under 60 trials, and >= 50 % on the whole mixed set.

Usage: scripts/bench_search.py [--pp target/release/pp] [--only NAME,...]
                               [--lang python|rust|javascript|go] [--keep DIR]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

PY_TEST_CMD = "python3 -m unittest discover -s tests -v"
RS_TEST_CMD = "cargo test --offline -q"
JS_TEST_CMD = "node --test"
GO_TEST_CMD = "go test ./..."

# name, kind ("op" or "out"), correct source, (buggy line, fixed line), visible tests, held-back tests.
# Visible tests are what pp runs; held-back tests judge whether a proven patch is the right fix.
PY = [
    ("add", "op", "def add(a, b):\n    return a + b\n", ("    return a + b", "    return a - b"),
     "self.assertEqual(add(2, 3), 5)\nself.assertEqual(add(0, 0), 0)",
     "assert add(-4, 10) == 6"),
    ("bigger", "op", "def bigger(a, b):\n    if a > b:\n        return a\n    return b\n",
     ("    if a > b:", "    if a < b:"),
     "self.assertEqual(bigger(1, 2), 2)\nself.assertEqual(bigger(5, 3), 5)",
     "assert bigger(-1, -7) == -1"),
    ("clamp", "op",
     "def clamp(x, lo, hi):\n    if x < lo:\n        return lo\n    if x > hi:\n        return hi\n    return x\n",
     ("        return hi", "        return lo"),
     "self.assertEqual(clamp(5, 0, 3), 3)\nself.assertEqual(clamp(-1, 0, 3), 0)\nself.assertEqual(clamp(2, 0, 3), 2)",
     "assert clamp(100, 1, 9) == 9"),
    ("is_even", "op", "def is_even(n):\n    return n % 2 == 0\n", ("    return n % 2 == 0", "    return n % 2 == 1"),
     "self.assertTrue(is_even(4))\nself.assertFalse(is_even(3))",
     "assert is_even(0) and not is_even(-3)"),
    ("sum_to", "op", "def sum_to(n):\n    return sum(range(1, n + 1))\n",
     ("    return sum(range(1, n + 1))", "    return sum(range(1, n))"),
     "self.assertEqual(sum_to(3), 6)\nself.assertEqual(sum_to(1), 1)",
     "assert sum_to(10) == 55"),
    ("last", "op", "def last(xs):\n    return xs[len(xs) - 1]\n", ("    return xs[len(xs) - 1]", "    return xs[len(xs) - 2]"),
     "self.assertEqual(last([1, 2, 3]), 3)",
     "assert last([9]) == 9"),
    ("count_positive", "op",
     "def count_positive(xs):\n    n = 0\n    for x in xs:\n        if x > 0:\n            n += 1\n    return n\n",
     ("        if x > 0:", "        if x >= 0:"),
     "self.assertEqual(count_positive([0, 1, -2, 3]), 2)",
     "assert count_positive([0, 0]) == 0"),
    ("both", "op", "def both(a, b):\n    return a and b\n", ("    return a and b", "    return a or b"),
     "self.assertFalse(both(True, False))\nself.assertTrue(both(True, True))",
     "assert not both(False, True)"),
    ("safe_div", "op",
     "def safe_div(a, b):\n    if b == 0:\n        return None\n    return a / b\n",
     ("    if b == 0:", "    if b != 0:"),
     "self.assertIsNone(safe_div(1, 0))\nself.assertEqual(safe_div(6, 3), 2)",
     "assert safe_div(5, 2) == 2.5"),
    ("gap", "op", "def gap(hi, lo):\n    return hi - lo\n", ("    return hi - lo", "    return lo - hi"),
     "self.assertEqual(gap(10, 4), 6)",
     "assert gap(3, 5) == -2"),
    ("power", "op", "def power(base, exp):\n    return base ** exp\n", ("    return base ** exp", "    return exp ** base"),
     "self.assertEqual(power(2, 5), 32)",
     "assert power(3, 2) == 9"),
    ("has_neg", "op",
     "def has_neg(xs):\n    found = False\n    for x in xs:\n        if x < 0:\n            found = True\n    return found\n",
     ("    found = False", "    found = True"),
     "self.assertFalse(has_neg([1, 2]))\nself.assertTrue(has_neg([1, -2]))",
     "assert not has_neg([])"),
    ("mean", "op", "def mean(xs):\n    return sum(xs) / len(xs)\n", ("    return sum(xs) / len(xs)", "    return sum(xs) // len(xs)"),
     "self.assertEqual(mean([1, 2]), 1.5)",
     "assert mean([1, 2, 3, 4]) == 2.5"),
    ("vowels", "op",
     "def vowels(s):\n    n = 0\n    for c in s:\n        if c in 'aeiou':\n            n += 1\n    return n\n",
     ("            n += 1", "            n -= 1"),
     "self.assertEqual(vowels('banana'), 3)",
     "assert vowels('xyz') == 0 and vowels('aa') == 2"),
    ("first_n", "op", "def first_n(xs, n):\n    return xs[:n]\n", ("    return xs[:n]", "    return xs[:n - 1]"),
     "self.assertEqual(first_n([1, 2, 3], 2), [1, 2])",
     "assert first_n([4, 5, 6], 3) == [4, 5, 6]"),
    ("leap", "op",
     "def leap(y):\n    return y % 4 == 0 and y % 100 != 0 or y % 400 == 0\n",
     ("    return y % 4 == 0 and y % 100 != 0 or y % 400 == 0", "    return y % 4 == 0 and y % 100 == 0 or y % 400 == 0"),
     "self.assertTrue(leap(2024))\nself.assertFalse(leap(1900))\nself.assertTrue(leap(2000))",
     "assert not leap(2023) and leap(1996)"),
    ("factorial", "op",
     "def factorial(n):\n    r = 1\n    for k in range(2, n + 1):\n        r *= k\n    return r\n",
     ("    r = 1", "    r = 0"),
     "self.assertEqual(factorial(4), 24)",
     "assert factorial(0) == 1 and factorial(5) == 120"),
    ("in_range", "op", "def in_range(x, lo, hi):\n    return lo <= x < hi\n", ("    return lo <= x < hi", "    return lo < x < hi"),
     "self.assertTrue(in_range(0, 0, 3))\nself.assertFalse(in_range(3, 0, 3))",
     "assert in_range(2, 0, 3) and not in_range(-1, 0, 3)"),
    ("total_or_zero", "op",
     "def total_or_zero(xs):\n    if not xs:\n        return 0\n    return sum(xs)\n",
     ("    if not xs:", "    if xs:"),
     "self.assertEqual(total_or_zero([]), 0)\nself.assertEqual(total_or_zero([2, 3]), 5)",
     "assert total_or_zero([7]) == 7"),
    ("uniq", "op",
     "def uniq(xs):\n    out = []\n    for x in xs:\n        if x not in out:\n            out.append(x)\n    return out\n",
     ("    return out", "    out.reverse()\n    return out"),
     "self.assertEqual(uniq([3, 1, 3, 2]), [3, 1, 2])",
     "assert uniq([1, 1]) == [1]"),
    ("quot_rem", "op", "def quot_rem(a, b):\n    return divmod(a, b)\n", ("    return divmod(a, b)", "    return divmod(b, a)"),
     "self.assertEqual(quot_rem(7, 2), (3, 1))",
     "assert quot_rem(9, 4) == (2, 1)"),
    ("weighted", "op",
     "def weighted(xs):\n    t = 0\n    for i, x in enumerate(xs):\n        t += i * x\n    return t\n",
     ("        t += i * x", "        t += i * i"),
     "self.assertEqual(weighted([5, 1, 3]), 7)",
     "assert weighted([0, 3, 0, 1]) == 6"),
    ("absent", "op", "def absent(x, xs):\n    return x not in xs\n", ("    return x not in xs", "    return x in xs"),
     "self.assertTrue(absent(4, [1, 2]))\nself.assertFalse(absent(1, [1, 2]))",
     "assert absent(0, [])"),
    ("middle", "op", "def middle(xs):\n    return xs[len(xs) // 2]\n", ("    return xs[len(xs) // 2]", "    return xs[len(xs) // 3]"),
     "self.assertEqual(middle([1, 2, 3, 4, 5]), 3)",
     "assert middle([7, 8, 9]) == 8"),
    ("countdown", "op",
     "def countdown(n):\n    out = []\n    while n > 0:\n        out.append(n)\n        n -= 1\n    return out\n",
     ("    while n > 0:", "    while n > 1:"),
     "self.assertEqual(countdown(3), [3, 2, 1])",
     "assert countdown(1) == [1] and countdown(0) == []"),
    # Modules with several functions, where localization has to find the one at fault.
    ("inventory", "op",
     "STOCK = {}\n\n\ndef add_item(name, qty):\n    STOCK[name] = STOCK.get(name, 0) + qty\n\n\n"
     "def remove_item(name, qty):\n    have = STOCK.get(name, 0)\n    if qty > have:\n        raise ValueError(name)\n    STOCK[name] = have - qty\n\n\n"
     "def total(prices):\n    return sum(prices.get(k, 0) * v for k, v in STOCK.items())\n\n\n"
     "def low_stock(threshold):\n    return sorted(k for k, v in STOCK.items() if v <= threshold)\n",
     ("    return sorted(k for k, v in STOCK.items() if v <= threshold)", "    return sorted(k for k, v in STOCK.items() if v < threshold)"),
     "STOCK.clear()\nadd_item('a', 5)\nadd_item('b', 2)\nremove_item('a', 1)\nself.assertEqual(total({'a': 2, 'b': 10}), 28)\nself.assertEqual(low_stock(2), ['b'])\nself.assertEqual(low_stock(4), ['a', 'b'])",
     "STOCK.clear()\nadd_item('x', 3)\nassert low_stock(3) == ['x'] and low_stock(2) == []"),
    ("textutil", "op",
     "def words(s):\n    return s.split()\n\n\ndef shout(s):\n    return s.upper() + '!'\n\n\n"
     "def count_char(s, c):\n    n = 0\n    for ch in s:\n        if ch == c:\n            n += 1\n    return n\n\n\n"
     "def initials(s):\n    return ''.join(w[0] for w in words(s))\n",
     ("            n += 1", "            n += 2"),
     "self.assertEqual(words('a b'), ['a', 'b'])\nself.assertEqual(shout('hi'), 'HI!')\nself.assertEqual(count_char('banana', 'a'), 3)\nself.assertEqual(initials('big red dog'), 'brd')",
     "assert count_char('', 'a') == 0 and count_char('aa', 'a') == 2"),
    ("account", "op",
     "class Account:\n    def __init__(self, balance=0):\n        self.balance = balance\n\n"
     "    def deposit(self, amount):\n        if amount <= 0:\n            raise ValueError('amount')\n        self.balance += amount\n\n"
     "    def withdraw(self, amount):\n        if amount > self.balance:\n            raise ValueError('funds')\n        self.balance -= amount\n        return self.balance\n",
     ("        if amount > self.balance:", "        if amount >= self.balance:"),
     "a = Account(10)\na.deposit(5)\nself.assertEqual(a.balance, 15)\nself.assertEqual(a.withdraw(15), 0)\nwith self.assertRaises(ValueError):\n    a.withdraw(1)",
     "b = Account(3)\nassert b.withdraw(3) == 0"),
    ("matrix", "op",
     "def identity(n):\n    return [[1 if i == j else 0 for j in range(n)] for i in range(n)]\n\n\n"
     "def transpose(m):\n    return [list(r) for r in zip(*m)]\n\n\n"
     "def trace(m):\n    t = 0\n    for i in range(len(m)):\n        t += m[i][i]\n    return t\n",
     ("    for i in range(len(m)):", "    for i in range(len(m) - 1):"),
     "self.assertEqual(identity(2), [[1, 0], [0, 1]])\nself.assertEqual(transpose([[1, 2], [3, 4]]), [[1, 3], [2, 4]])\nself.assertEqual(trace([[1, 2], [3, 4]]), 5)",
     "assert trace([[7]]) == 7 and trace(identity(3)) == 3"),
    ("days", "op",
     "def is_leap(y):\n    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)\n\n\n"
     "def days_in_month(m, y):\n    if m == 2:\n        return 29 if is_leap(y) else 28\n    if m in (4, 6, 9, 11):\n        return 30\n    return 31\n",
     ("        return 29 if is_leap(y) else 28", "        return 29 if not is_leap(y) else 28"),
     "self.assertTrue(is_leap(2024))\nself.assertEqual(days_in_month(2, 2024), 29)\nself.assertEqual(days_in_month(4, 2023), 30)\nself.assertEqual(days_in_month(1, 2023), 31)",
     "assert days_in_month(2, 2023) == 28"),
    ("greet", "out", "def greet(name):\n    return 'Hello, ' + name\n", ("    return 'Hello, ' + name", "    return 'Helo, ' + name"),
     "self.assertEqual(greet('Ada'), 'Hello, Ada')",
     "assert greet('') == 'Hello, '"),
    ("largest", "out", "def largest(xs):\n    return max(xs)\n", ("    return max(xs)", "    return min(xs)"),
     "self.assertEqual(largest([3, 9, 2]), 9)",
     "assert largest([-5, -1]) == -1"),
    ("total", "out",
     "def total(xs):\n    t = 0\n    for x in xs:\n        t += x\n    return t\n",
     ("        t += x", "        pass"),
     "self.assertEqual(total([1, 2, 3]), 6)",
     "assert total([]) == 0 and total([5]) == 5"),
]

RS = [
    ("rs_add", "op", "pub fn add(a: i64, b: i64) -> i64 {\n    a + b\n}\n", ("    a + b", "    a - b"),
     "assert_eq!(add(2, 3), 5);", "assert_eq!(add(-4, 10), 6);"),
    ("rs_bigger", "op", "pub fn bigger(a: i64, b: i64) -> i64 {\n    if a > b { a } else { b }\n}\n",
     ("    if a > b { a } else { b }", "    if a < b { a } else { b }"),
     "assert_eq!(bigger(1, 2), 2);\n    assert_eq!(bigger(5, 3), 5);", "assert_eq!(bigger(-1, -7), -1);"),
    ("rs_sum_to", "op", "pub fn sum_to(n: u64) -> u64 {\n    (1..=n).sum()\n}\n", ("    (1..=n).sum()", "    (1..n).sum()"),
     "assert_eq!(sum_to(3), 6);", "assert_eq!(sum_to(10), 55);"),
    ("rs_is_even", "op", "pub fn is_even(n: i64) -> bool {\n    n % 2 == 0\n}\n", ("    n % 2 == 0", "    n % 2 == 1"),
     "assert!(is_even(4));\n    assert!(!is_even(3));", "assert!(is_even(0));"),
    ("rs_count_pos", "op",
     "pub fn count_pos(v: &[i64]) -> usize {\n    v.iter().filter(|x| **x > 0).count()\n}\n",
     ("    v.iter().filter(|x| **x > 0).count()", "    v.iter().filter(|x| **x >= 0).count()"),
     "assert_eq!(count_pos(&[0, 1, -2, 3]), 2);", "assert_eq!(count_pos(&[0, 0]), 0);"),
    ("rs_last", "op", "pub fn last(v: &[i64]) -> i64 {\n    v[v.len() - 1]\n}\n", ("    v[v.len() - 1]", "    v[v.len() - 2]"),
     "assert_eq!(last(&[1, 2, 3]), 3);", "assert_eq!(last(&[9]), 9);"),
    ("rs_both", "op", "pub fn both(a: bool, b: bool) -> bool {\n    a && b\n}\n", ("    a && b", "    a || b"),
     "assert!(!both(true, false));\n    assert!(both(true, true));", "assert!(!both(false, true));"),
    ("rs_factorial", "op",
     "pub fn factorial(n: u64) -> u64 {\n    let mut r = 1;\n    for k in 2..=n {\n        r *= k;\n    }\n    r\n}\n",
     ("    let mut r = 1;", "    let mut r = 0;"),
     "assert_eq!(factorial(4), 24);", "assert_eq!(factorial(0), 1);"),
    ("rs_clamp", "op",
     "pub fn clamp(x: i64, lo: i64, hi: i64) -> i64 {\n    if x < lo {\n        return lo;\n    }\n    if x > hi {\n        return hi;\n    }\n    x\n}\n",
     ("        return hi;", "        return lo;"),
     "assert_eq!(clamp(5, 0, 3), 3);\n    assert_eq!(clamp(-1, 0, 3), 0);", "assert_eq!(clamp(100, 1, 9), 9);"),
    ("rs_gap", "op", "pub fn gap(hi: i64, lo: i64) -> i64 {\n    hi - lo\n}\n", ("    hi - lo", "    lo - hi"),
     "assert_eq!(gap(10, 4), 6);", "assert_eq!(gap(3, 5), -2);"),
    ("rs_stack", "op",
     "pub struct Stack { items: Vec<i64> }\n\nimpl Stack {\n    pub fn new() -> Self { Stack { items: Vec::new() } }\n\n"
     "    pub fn push(&mut self, x: i64) { self.items.push(x); }\n\n"
     "    pub fn len(&self) -> usize { self.items.len() }\n\n"
     "    pub fn peek(&self) -> Option<i64> {\n        if self.items.is_empty() {\n            return None;\n        }\n        Some(self.items[self.items.len() - 1])\n    }\n}\n",
     ("        Some(self.items[self.items.len() - 1])", "        Some(self.items[self.items.len() - 2])"),
     "let mut s = Stack::new();\n    s.push(1);\n    s.push(2);\n    s.push(3);\n    assert_eq!(s.len(), 3);\n    assert_eq!(s.peek(), Some(3));",
     "let mut s = Stack::new();\n    assert_eq!(s.peek(), None);\n    s.push(9);\n    assert_eq!(s.peek(), Some(9));"),
    ("rs_grades", "op",
     "pub fn letter(score: u32) -> char {\n    if score >= 90 {\n        'A'\n    } else if score >= 80 {\n        'B'\n    } else if score >= 70 {\n        'C'\n    } else {\n        'F'\n    }\n}\n\npub fn passed(score: u32) -> bool {\n    letter(score) != 'F'\n}\n",
     ("    } else if score >= 80 {", "    } else if score > 80 {"),
     "assert_eq!(letter(95), 'A');\n    assert_eq!(letter(80), 'B');\n    assert_eq!(letter(75), 'C');\n    assert!(!passed(10));",
     "assert_eq!(letter(85), 'B');\n    assert_eq!(letter(79), 'C');"),
    ("rs_greet", "out", "pub fn greet(name: &str) -> String {\n    format!(\"Hello, {name}\")\n}\n",
     ("    format!(\"Hello, {name}\")", "    format!(\"Helo, {name}\")"),
     "assert_eq!(greet(\"Ada\"), \"Hello, Ada\");", "assert_eq!(greet(\"\"), \"Hello, \");"),
]

# JavaScript (CommonJS, `node --test`): visible tests are `assert` lines in one `test()`.
JS = [
    ("js_add", "op", "function add(a, b) {\n  return a + b;\n}\n\nmodule.exports = { add };\n",
     ("  return a + b;", "  return a - b;"),
     "assert.equal(add(2, 3), 5);\nassert.equal(add(0, 0), 0);", "assert.equal(add(-4, 10), 6);"),
    ("js_bigger", "op",
     "function bigger(a, b) {\n  if (a > b) {\n    return a;\n  }\n  return b;\n}\n\nmodule.exports = { bigger };\n",
     ("  if (a > b) {", "  if (a < b) {"),
     "assert.equal(bigger(1, 2), 2);\nassert.equal(bigger(5, 3), 5);", "assert.equal(bigger(-1, -7), -1);"),
    ("js_is_even", "op", "function isEven(n) {\n  return n % 2 === 0;\n}\n\nmodule.exports = { isEven };\n",
     ("  return n % 2 === 0;", "  return n % 2 === 1;"),
     "assert.ok(isEven(4));\nassert.ok(!isEven(3));", "assert.ok(isEven(0) && !isEven(-3));"),
    ("js_last", "op", "function last(xs) {\n  return xs[xs.length - 1];\n}\n\nmodule.exports = { last };\n",
     ("  return xs[xs.length - 1];", "  return xs[xs.length - 2];"),
     "assert.equal(last([1, 2, 3]), 3);", "assert.equal(last([9]), 9);"),
    ("js_count_pos", "op",
     "function countPositive(xs) {\n  let n = 0;\n  for (const x of xs) {\n    if (x > 0) {\n      n += 1;\n    }\n  }\n  return n;\n}\n\nmodule.exports = { countPositive };\n",
     ("    if (x > 0) {", "    if (x >= 0) {"),
     "assert.equal(countPositive([0, 1, -2, 3]), 2);", "assert.equal(countPositive([0, 0]), 0);"),
    ("js_both", "op", "function both(a, b) {\n  return a && b;\n}\n\nmodule.exports = { both };\n",
     ("  return a && b;", "  return a || b;"),
     "assert.equal(both(true, false), false);\nassert.equal(both(true, true), true);",
     "assert.equal(both(false, true), false);"),
    ("js_sum_to", "op",
     "function sumTo(n) {\n  let t = 0;\n  for (let k = 1; k <= n; k++) {\n    t += k;\n  }\n  return t;\n}\n\nmodule.exports = { sumTo };\n",
     ("  for (let k = 1; k <= n; k++) {", "  for (let k = 1; k < n; k++) {"),
     "assert.equal(sumTo(3), 6);\nassert.equal(sumTo(1), 1);", "assert.equal(sumTo(10), 55);"),
    ("js_factorial", "op",
     "function factorial(n) {\n  let r = 1;\n  for (let k = 2; k <= n; k++) {\n    r *= k;\n  }\n  return r;\n}\n\nmodule.exports = { factorial };\n",
     ("  let r = 1;", "  let r = 0;"),
     "assert.equal(factorial(4), 24);", "assert.equal(factorial(0), 1);\nassert.equal(factorial(5), 120);"),
    ("js_first_n", "op", "function firstN(xs, n) {\n  return xs.slice(0, n);\n}\n\nmodule.exports = { firstN };\n",
     ("  return xs.slice(0, n);", "  return xs.slice(0, n - 1);"),
     "assert.deepEqual(firstN([1, 2, 3], 2), [1, 2]);", "assert.deepEqual(firstN([4, 5, 6], 3), [4, 5, 6]);"),
    ("js_gap", "op", "function gap(hi, lo) {\n  return hi - lo;\n}\n\nmodule.exports = { gap };\n",
     ("  return hi - lo;", "  return lo - hi;"),
     "assert.equal(gap(10, 4), 6);", "assert.equal(gap(3, 5), -2);"),
    ("js_cart", "op",
     "function subtotal(items) {\n  let t = 0;\n  for (const it of items) {\n    t += it.price * it.qty;\n  }\n  return t;\n}\n\n"
     "function discount(total) {\n  if (total >= 100) {\n    return total * 0.1;\n  }\n  return 0;\n}\n\n"
     "function total(items) {\n  const s = subtotal(items);\n  return s - discount(s);\n}\n\n"
     "module.exports = { subtotal, discount, total };\n",
     ("  if (total >= 100) {", "  if (total > 100) {"),
     "assert.equal(subtotal([{ price: 2, qty: 3 }]), 6);\nassert.equal(total([{ price: 50, qty: 2 }]), 90);\nassert.equal(total([{ price: 10, qty: 1 }]), 10);",
     "assert.equal(total([{ price: 101, qty: 1 }]), 90.9);\nassert.equal(discount(99), 0);"),
    ("js_greet", "out", "function greet(name) {\n  return 'Hello, ' + name;\n}\n\nmodule.exports = { greet };\n",
     ("  return 'Hello, ' + name;", "  return 'Helo, ' + name;"),
     "assert.equal(greet('Ada'), 'Hello, Ada');", "assert.equal(greet(''), 'Hello, ');"),
    ("js_largest", "out", "function largest(xs) {\n  return Math.max(...xs);\n}\n\nmodule.exports = { largest };\n",
     ("  return Math.max(...xs);", "  return Math.min(...xs);"),
     "assert.equal(largest([3, 9, 2]), 9);", "assert.equal(largest([-5, -1]), -1);"),
]

# Go (`package prog`, `go test`): visible tests are `eq(t, got, want)` lines in one test.
GO = [
    ("go_add", "op", "package prog\n\nfunc Add(a, b int) int {\n\treturn a + b\n}\n",
     ("\treturn a + b", "\treturn a - b"),
     "eq(t, Add(2, 3), 5)\neq(t, Add(0, 0), 0)", "eq(t, Add(-4, 10), 6)"),
    ("go_bigger", "op",
     "package prog\n\nfunc Bigger(a, b int) int {\n\tif a > b {\n\t\treturn a\n\t}\n\treturn b\n}\n",
     ("\tif a > b {", "\tif a < b {"),
     "eq(t, Bigger(1, 2), 2)\neq(t, Bigger(5, 3), 5)", "eq(t, Bigger(-1, -7), -1)"),
    ("go_is_even", "op", "package prog\n\nfunc IsEven(n int) bool {\n\treturn n%2 == 0\n}\n",
     ("\treturn n%2 == 0", "\treturn n%2 == 1"),
     "eq(t, IsEven(4), true)\neq(t, IsEven(3), false)", "eq(t, IsEven(0), true)\neq(t, IsEven(-3), false)"),
    ("go_last", "op", "package prog\n\nfunc Last(xs []int) int {\n\treturn xs[len(xs)-1]\n}\n",
     ("\treturn xs[len(xs)-1]", "\treturn xs[len(xs)-2]"),
     "eq(t, Last([]int{1, 2, 3}), 3)", "eq(t, Last([]int{9}), 9)"),
    ("go_count_pos", "op",
     "package prog\n\nfunc CountPositive(xs []int) int {\n\tn := 0\n\tfor _, x := range xs {\n\t\tif x > 0 {\n\t\t\tn++\n\t\t}\n\t}\n\treturn n\n}\n",
     ("\t\tif x > 0 {", "\t\tif x >= 0 {"),
     "eq(t, CountPositive([]int{0, 1, -2, 3}), 2)", "eq(t, CountPositive([]int{0, 0}), 0)"),
    ("go_both", "op", "package prog\n\nfunc Both(a, b bool) bool {\n\treturn a && b\n}\n",
     ("\treturn a && b", "\treturn a || b"),
     "eq(t, Both(true, false), false)\neq(t, Both(true, true), true)", "eq(t, Both(false, true), false)"),
    ("go_sum_to", "op",
     "package prog\n\nfunc SumTo(n int) int {\n\tt := 0\n\tfor k := 1; k <= n; k++ {\n\t\tt += k\n\t}\n\treturn t\n}\n",
     ("\tfor k := 1; k <= n; k++ {", "\tfor k := 1; k < n; k++ {"),
     "eq(t, SumTo(3), 6)\neq(t, SumTo(1), 1)", "eq(t, SumTo(10), 55)"),
    ("go_factorial", "op",
     "package prog\n\nfunc Factorial(n int) int {\n\tr := 1\n\tfor k := 2; k <= n; k++ {\n\t\tr *= k\n\t}\n\treturn r\n}\n",
     ("\tr := 1", "\tr := 0"),
     "eq(t, Factorial(4), 24)", "eq(t, Factorial(0), 1)\neq(t, Factorial(5), 120)"),
    ("go_first_n", "op", "package prog\n\nfunc FirstN(xs []int, n int) []int {\n\treturn xs[:n]\n}\n",
     ("\treturn xs[:n]", "\treturn xs[:n-1]"),
     "eq(t, FirstN([]int{1, 2, 3}, 2), []int{1, 2})", "eq(t, FirstN([]int{4, 5, 6}, 3), []int{4, 5, 6})"),
    ("go_clamp", "op",
     "package prog\n\nfunc Clamp(x, lo, hi int) int {\n\tif x < lo {\n\t\treturn lo\n\t}\n\tif x > hi {\n\t\treturn hi\n\t}\n\treturn x\n}\n",
     ("\t\treturn hi", "\t\treturn lo"),
     "eq(t, Clamp(5, 0, 3), 3)\neq(t, Clamp(-1, 0, 3), 0)\neq(t, Clamp(2, 0, 3), 2)", "eq(t, Clamp(100, 1, 9), 9)"),
    ("go_stack", "op",
     "package prog\n\ntype Stack struct{ items []int }\n\nfunc (s *Stack) Push(x int) { s.items = append(s.items, x) }\n\n"
     "func (s *Stack) Len() int { return len(s.items) }\n\n"
     "func (s *Stack) Peek() (int, bool) {\n\tif len(s.items) == 0 {\n\t\treturn 0, false\n\t}\n\treturn s.items[len(s.items)-1], true\n}\n",
     ("\treturn s.items[len(s.items)-1], true", "\treturn s.items[len(s.items)-2], true"),
     "s := &Stack{}\ns.Push(1)\ns.Push(2)\ns.Push(3)\neq(t, s.Len(), 3)\ntop, _ := s.Peek()\neq(t, top, 3)",
     "s := &Stack{}\n_, ok := s.Peek()\neq(t, ok, false)\ns.Push(9)\ntop, _ := s.Peek()\neq(t, top, 9)"),
    ("go_greet", "out", "package prog\n\nfunc Greet(name string) string {\n\treturn \"Hello, \" + name\n}\n",
     ("\treturn \"Hello, \" + name", "\treturn \"Helo, \" + name"),
     "eq(t, Greet(\"Ada\"), \"Hello, Ada\")", "eq(t, Greet(\"\"), \"Hello, \")"),
    ("go_total", "out",
     "package prog\n\nfunc Total(xs []int) int {\n\tt := 0\n\tfor _, x := range xs {\n\t\tt += x\n\t}\n\treturn t\n}\n",
     ("\t\tt += x", "\t\tt = x"),
     "eq(t, Total([]int{1, 2, 3}), 6)", "eq(t, Total(nil), 0)\neq(t, Total([]int{5}), 5)"),
]

GO_HELPER = (
    "func eq(t *testing.T, got, want interface{}) {\n\tt.Helper()\n"
    "\tif !reflect.DeepEqual(got, want) {\n\t\tt.Fatalf(\"got %v, want %v\", got, want)\n\t}\n}\n"
)


def sh(cmd, cwd, timeout=600):
    return subprocess.run(cmd, cwd=cwd, shell=True, capture_output=True, text=True, timeout=timeout)


def git_init(d):
    sh("git init -q && git add -A && git -c user.email=b@e -c user.name=bench commit -qm bug", d)


def python_program(d, name, good, bug, visible):
    src = good.replace(bug[0], bug[1], 1)
    os.makedirs(os.path.join(d, "tests"))
    with open(os.path.join(d, "prog.py"), "w") as f:
        f.write(src)
    body = "\n".join("        " + line for line in visible.splitlines())
    with open(os.path.join(d, "tests", "test_prog.py"), "w") as f:
        f.write(f"import unittest\nfrom prog import *\n\n\nclass T(unittest.TestCase):\n    def test_{name}(self):\n{body}\n")
    return "prog.py", PY_TEST_CMD


def rust_program(d, name, good, bug, visible, target_dir):
    src = good.replace(bug[0], bug[1], 1)
    os.makedirs(os.path.join(d, "src"))
    os.makedirs(os.path.join(d, "tests"))
    with open(os.path.join(d, "Cargo.toml"), "w") as f:
        f.write(f'[package]\nname = "{name}"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\n')
    with open(os.path.join(d, "src", "lib.rs"), "w") as f:
        f.write(src)
    with open(os.path.join(d, "tests", "visible.rs"), "w") as f:
        f.write(f"use {name}::*;\n\n#[test]\nfn visible() {{\n    {visible}\n}}\n")
    with open(os.path.join(d, ".gitignore"), "w") as f:
        f.write("target/\n")
    # Warm build, as a developer's tree would have.
    sh("cargo build --offline -q --tests", d)
    return "src/lib.rs", RS_TEST_CMD


def js_program(d, name, good, bug, visible):
    src = good.replace(bug[0], bug[1], 1)
    os.makedirs(os.path.join(d, "test"))
    with open(os.path.join(d, "prog.js"), "w") as f:
        f.write(src)
    body = "\n".join("  " + line for line in visible.splitlines())
    names = good.rsplit("module.exports = {", 1)[1].split("}")[0].strip()
    with open(os.path.join(d, "test", "prog.test.js"), "w") as f:
        f.write("const { test } = require('node:test');\nconst assert = require('node:assert/strict');\n"
                f"const {{ {names} }} = require('../prog.js');\n\ntest('{name}', () => {{\n{body}\n}});\n")
    return "prog.js", JS_TEST_CMD


def go_program(d, name, good, bug, visible):
    src = good.replace(bug[0], bug[1], 1)
    with open(os.path.join(d, "go.mod"), "w") as f:
        f.write("module example.com/prog\n\ngo 1.19\n")
    with open(os.path.join(d, "prog.go"), "w") as f:
        f.write(src)
    body = "\n".join("\t" + line for line in visible.splitlines())
    test_name = "Test" + "".join(p.title() for p in name.split("_"))
    with open(os.path.join(d, "prog_test.go"), "w") as f:
        f.write(f"package prog\n\nimport (\n\t\"reflect\"\n\t\"testing\"\n)\n\n{GO_HELPER}\n"
                f"func {test_name}(t *testing.T) {{\n{body}\n}}\n")
    return "prog.go", GO_TEST_CMD


def held_back_passes(lang, d, name, hidden):
    if lang == "javascript":
        code = ("const assert = require('node:assert/strict');\n"
                f"Object.assign(globalThis, require('./prog.js'));\n{hidden}\n")
        r = subprocess.run(["node", "-e", code], cwd=d, capture_output=True, text=True, timeout=60)
        return r.returncode == 0
    if lang == "go":
        body = "\n".join("\t" + line for line in hidden.splitlines())
        with open(os.path.join(d, "held_back_test.go"), "w") as f:
            f.write(f"package prog\n\nimport \"testing\"\n\nfunc TestHeldBack(t *testing.T) {{\n{body}\n}}\n")
        return sh("go test -run '^TestHeldBack$' ./...", d).returncode == 0
    if lang == "python":
        r = subprocess.run([sys.executable, "-c", f"from prog import *\n{hidden}\n"], cwd=d,
                           capture_output=True, text=True, timeout=60)
        return r.returncode == 0
    with open(os.path.join(d, "tests", "held_back.rs"), "w") as f:
        f.write(f"use {name}::*;\n\n#[test]\nfn held_back() {{\n    {hidden}\n}}\n")
    return sh("cargo test --offline -q --test held_back", d).returncode == 0


def run_one(pp, lang, entry, keep):
    name, kind, good, bug, visible, hidden = entry
    d = tempfile.mkdtemp(prefix=f"pp-search-{name}-", dir=keep)
    if lang == "python":
        path, cmd = python_program(d, name, good, bug, visible)
    elif lang == "javascript":
        path, cmd = js_program(d, name, good, bug, visible)
    elif lang == "go":
        path, cmd = go_program(d, name, good, bug, visible)
    else:
        path, cmd = rust_program(d, name, good, bug, visible, None)
    with open(os.path.join(d, "pp.yaml"), "w") as f:
        f.write("policy:\n  limits: {max_attempts: 1}\n  search:\n    max_trials: 200\n    max_seconds: 900\n")
    git_init(d)
    t0 = time.monotonic()
    r = subprocess.run([pp, "run", cmd, "--provider", "search", "--json"], cwd=d,
                       capture_output=True, text=True, timeout=3600)
    secs = time.monotonic() - t0
    try:
        summary = json.loads(r.stdout)
    except json.JSONDecodeError:
        print(r.stderr[-2000:], file=sys.stderr)
        raise
    status = summary.get("status")
    if status is None:
        raise RuntimeError(f"{name}: pp failed: {summary.get('error')}")
    trials = None
    bundle = summary.get("proof_bundle")
    if bundle:
        for root, _, files in os.walk(os.path.join(bundle, "attempts")):
            if "search.json" in files:
                with open(os.path.join(root, "search.json")) as f:
                    trials = len(json.load(f)["report"]["trials"])
    correct = None
    if status == "proven":
        patch = summary.get("final_patch") or os.path.join(bundle, "final.patch")
        sh(f"git apply '{patch}'", d)
        with open(os.path.join(d, path)) as f:
            fixed = f.read()
        correct = fixed == good or held_back_passes(lang, d, name, hidden)
    if keep is None:
        shutil.rmtree(d, ignore_errors=True)
    return {"name": name, "lang": lang, "kind": kind, "status": status, "proven": status == "proven",
            "correct": correct, "trials": trials, "seconds": round(secs, 1)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pp", default=os.path.join(os.path.dirname(__file__), "..", "target", "release", "pp"))
    ap.add_argument("--only", default="")
    ap.add_argument("--lang", default="")
    ap.add_argument("--keep", default=None, help="keep each program's directory under this one")
    args = ap.parse_args()
    pp = os.path.abspath(args.pp)
    only = set(filter(None, args.only.split(",")))
    corpus = ([("python", e) for e in PY] + [("rust", e) for e in RS]
              + [("javascript", e) for e in JS] + [("go", e) for e in GO])
    rows = []
    for lang, entry in corpus:
        if (only and entry[0] not in only) or (args.lang and lang != args.lang):
            continue
        row = run_one(pp, lang, entry, args.keep)
        rows.append(row)
        print(json.dumps(row), flush=True)
    print()
    for label, sel in [("op (an operator can fix it)", lambda r: r["kind"] == "op"),
                       ("out (no operator can)", lambda r: r["kind"] == "out"),
                       ("mixed (all)", lambda r: True)]:
        for lang in ["python", "rust", "javascript", "go", None]:
            rs = [r for r in rows if sel(r) and (lang is None or r["lang"] == lang)]
            if not rs:
                continue
            proven = [r for r in rs if r["proven"]]
            correct = [r for r in proven if r["correct"]]
            trials = [r["trials"] for r in proven if r["trials"] is not None]
            secs = [r["seconds"] for r in proven]
            print(f"{label:30} {lang or 'all':10} n={len(rs):3} proven={len(proven):3} "
                  f"({100 * len(proven) / len(rs):5.1f} %) correct={len(correct):3} "
                  f"median trials={statistics.median(trials) if trials else '-'} "
                  f"median s={round(statistics.median(secs), 1) if secs else '-'}")


if __name__ == "__main__":
    main()
