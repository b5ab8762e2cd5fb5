"""libmodsecurity's ``@pm`` automaton, with its failure links exactly as it builds them.

libmodsecurity (``src/utils/acmp.cc``, from ModSecurity 2) links a trie node's failure
to ``child(fail(parent), letter)`` or, when that child does not exist, straight to the
root — one step, where Aho-Corasick follows failure links until it finds the child.
With ``/php.ini``, ``apache/log`` and ``etc/alsa`` in one list, ``apache/`` then fails
to the root instead of ``/``, and ``…/apache/php.ini`` does not match ``/php.ini``. The
CRS's ``lfi-os-files.data`` has such pairs, so a correct automaton would fire where the
WAF does not.

``Acmp.exact`` is True when every failure link equals the correct one: then a correct
Aho-Corasick answer (pyahocorasick, in C) is libmodsecurity's answer. Otherwise a value
the correct automaton matches is re-checked by walking this one (the rare case).
"""

from __future__ import annotations

ROOT = 0


def _lower(byte: int) -> int:
    return byte + 32 if 65 <= byte <= 90 else byte  # C tolower() in the "C" locale


class Acmp:
    __slots__ = ("children", "fail", "is_last", "o_match", "exact")

    def __init__(self, phrases: list[bytes]) -> None:
        children: list[dict[int, int]] = [{}]
        parent = [ROOT]
        letter = [0]
        is_last = [False]
        for phrase in phrases:
            node = ROOT
            for byte in phrase:
                key = _lower(byte)
                child = children[node].get(key)
                if child is None:
                    child = len(children)
                    children[node][key] = child
                    children.append({})
                    parent.append(node)
                    letter.append(key)
                    is_last.append(False)
                node = child
            is_last[node] = True
        count = len(children)
        fail = [ROOT] * count
        correct = [ROOT] * count
        level = list(children[ROOT].values())
        while level:
            following = []
            for node in level:
                up = parent[node]
                if up != ROOT:
                    fail[node] = children[fail[up]].get(letter[node], ROOT)
                    # Aho-Corasick: follow failure links until the letter continues.
                    state = correct[up]
                    while True:
                        found = children[state].get(letter[node])
                        if found is not None or state == ROOT:
                            correct[node] = found if found is not None and found != node else ROOT
                            break
                        state = correct[state]
                following.extend(children[node].values())
            level = following
        o_match = [False] * count
        for node in range(1, count):
            state = fail[node]
            while state != ROOT:
                if is_last[state]:
                    o_match[node] = True
                    break
                state = fail[state]
        self.children = children
        self.fail = fail
        self.is_last = is_last
        self.o_match = o_match
        self.exact = fail == correct

    def search(self, data: bytes) -> bool:
        """``acmp_process_quick``: is any phrase found, as libmodsecurity finds it?"""
        children, fail, is_last, o_match = self.children, self.fail, self.is_last, self.o_match
        node = ROOT
        for byte in data:
            key = _lower(byte)
            go_to = None
            while go_to is None:
                go_to = children[node].get(key)
                if go_to is not None and is_last[go_to]:
                    return True
                if node == ROOT:
                    break
                if go_to is None:
                    node = fail[node]
            if go_to is not None:
                node = go_to
            if o_match[node]:
                return True
        return False
