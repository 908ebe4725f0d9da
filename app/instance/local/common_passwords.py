"""A small bundled list of passwords everyone tries first (from the widely published top-password lists).

Only entries of at least `MIN_PASSWORD_LENGTH` characters matter, since shorter ones are refused by
length already. Compared case-insensitively, so "Password1" is as common as "password1".
"""

from __future__ import annotations

COMMON_PASSWORDS: frozenset[str] = frozenset(
    """
    12345678 123456789 1234567890 0123456789 12341234 11111111 00000000 88888888 87654321 11223344
    12344321 123123123 147258369 987654321 1q2w3e4r 1q2w3e4r5t 1qaz2wsx q1w2e3r4 zaq12wsx qwertyui
    qwertyuiop qwerty123 qwerty12 asdfghjk asdfghjkl zxcvbnm1 zxcvbnm123 abcd1234 abc12345 abcdefgh
    password password1 password12 password123 password! passw0rd p@ssw0rd p@ssword pa55word
    iloveyou iloveyou1 sunshine princess football baseball basketball superman batman123 starwars
    trustno1 welcome1 welcome123 letmein1 letmein123 changeme changeme1 administrator admin123
    admin1234 adminadmin administrator1 root1234 rootroot master123 michael1 jennifer charlie1
    whatever computer internet dragon12 monkey12 shadow12 freedom1 mustang1 liverpool chelsea1
    arsenal1 jordan23 hello123 helloworld lovely123 secret123 default1 guest123 test1234 testtest
    testing1 qazwsxedc 1qazxsw2 aaaaaaaa asdfasdf passpass 123qweasd qweasdzxc quarklink
    quarklink1 provisioning station1
    """.split()  # noqa: SIM905 - a word list reads better as words
)
