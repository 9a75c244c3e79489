"""Posts of realistic shape for speed measurements (seeded): tweet-like lengths, hashtags, mentions, emoji.

Speed depends on token counts, not on meaning, so templates are enough here; the ingester's generator is
the one that reads like a real feed.
"""

import random

OPENERS = [
    "Just tried the new",
    "Can't believe the",
    "Honestly the",
    "Anyone else think the",
    "Loving the",
    "So disappointed with the",
    "Quick update on the",
    "Thread about the",
    "Why is the",
    "Finally got the",
]
SUBJECTS = [
    "update",
    "phone",
    "train service",
    "coffee place downtown",
    "season finale",
    "election debate",
    "customer support",
    "new album",
    "weather",
    "game last night",
    "price increase",
    "app redesign",
]
CLAUSES = [
    "and it is way better than I expected",
    "but the battery dies in two hours",
    "which nobody asked for",
    "after waiting for three weeks",
    "and the staff were really kind about it",
    "so I am never going back",
    "even though everyone said it would be fine",
    "and now I have to redo everything",
    "because apparently that is how things work now",
    "and I think it might be the best one yet",
]
TAILS = [
    "#fail",
    "#blessed",
    "#mondays",
    "#tech",
    "@support",
    "@everyone",
    "😂",
    "🔥🔥",
    "😡",
    "🙏",
    "lol",
    "",
]


def posts(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        words = [rng.choice(OPENERS), rng.choice(SUBJECTS)]
        words += rng.sample(CLAUSES, k=rng.choices([0, 1, 2, 3, 5], weights=[1, 3, 4, 2, 1])[0])
        words += rng.sample(TAILS, k=rng.randint(0, 3))
        out.append(" ".join(w for w in words if w))
    return out
