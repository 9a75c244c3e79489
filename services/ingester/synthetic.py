"""The synthetic source: posts that read like a real feed, seeded and reproducible, in a ``steady`` or a
``burst`` scenario (docs/pipeline.md). The same seed gives the same posts; ``post_id`` carries a run id, so
two runs never collide."""

import argparse
import asyncio
import logging
import random
from dataclasses import dataclass
from datetime import UTC, datetime

from services.common.messages import PostMessage
from services.common.settings import Scenario, Settings
from services.ingester.producer import Pacer, Producer
from services.ingester.source import Source

log = logging.getLogger("ingester")


# The networks it imitates, by share. Its labels say the posts are invented (synthetic-bluesky), so that they
# never share a label with a live source's real posts.
LABEL_PREFIX = "synthetic-"
SOURCES = {
    f"{LABEL_PREFIX}{name}": share
    for name, share in {"twitter": 40, "reddit": 25, "mastodon": 15, "bluesky": 12, "threads": 8}.items()
}
REDDIT = f"{LABEL_PREFIX}reddit"
TOPICS = {
    "phone": ("#PhoneLaunch", ["the new phone", "the battery", "the camera update", "the keynote"]),
    "airline": ("#travel", ["my flight", "the airline", "the lounge", "the baggage desk"]),
    "coffee": ("#coffee", ["the café on 5th", "my morning latte", "the new roast", "the barista"]),
    "election": ("#debate", ["the debate", "the polls", "the candidate", "the turnout"]),
    "streaming": ("#finale", ["the season finale", "the new series", "the price increase", "the app"]),
    "football": ("#matchday", ["the match", "the referee", "our keeper", "the transfer news"]),
    "weather": ("#storm", ["the storm", "the heatwave", "the forecast", "the power cut"]),
}
# (emotion, sentiment, templates); {x} is a subject of the topic
TEMPLATES: list[tuple[str, str, list[str]]] = [
    (
        "joy",
        "positive",
        [
            "I love {x} so much, best thing this week",
            "{x} made my day honestly",
            "so happy with {x}, totally worth it",
            "big thanks to everyone behind {x}",
            "{x} was amazing, can't stop smiling",
        ],
    ),
    (
        "anger",
        "negative",
        [
            "{x} is a complete joke, I'm furious",
            "absolutely fed up with {x}",
            "who signed off on {x}?? unacceptable",
            "{x} again. I am so angry right now",
        ],
    ),
    (
        "sadness",
        "negative",
        [
            "kind of heartbroken about {x} tbh",
            "{x} left me feeling really down",
            "miss how {x} used to be",
            "so sad to see what happened with {x}",
        ],
    ),
    (
        "fear",
        "negative",
        [
            "honestly scared about {x}",
            "{x} is making me really anxious",
            "worried {x} is going to get worse",
        ],
    ),
    (
        "disgust",
        "negative",
        [
            "{x} is gross, how is this allowed",
            "the way they handled {x} is disgusting",
        ],
    ),
    (
        "surprise",
        "positive",
        [
            "wait, {x} actually works now?? wow",
            "did not expect {x} to be this good",
        ],
    ),
    (
        "surprise",
        "negative",
        [
            "wow, did not see {x} falling apart like that",
        ],
    ),
    (
        "neutral",
        "neutral",
        [
            "anyone know when {x} starts?",
            "reading up on {x} this afternoon",
            "{x}: full details in the link",
            "thread on {x} below",
            "what do people think of {x}",
            "{x} is scheduled for 7pm",
        ],
    ),
]
STEADY_WEIGHTS = {
    "joy": 22,
    "surprise": 6,
    "neutral": 40,
    "anger": 12,
    "sadness": 10,
    "fear": 6,
    "disgust": 4,
}
BURST_WEIGHTS = {
    "joy": 5,
    "surprise": 3,
    "neutral": 12,
    "anger": 40,
    "sadness": 10,
    "fear": 15,
    "disgust": 15,
}
EMOJI = {
    "joy": ["😍", "🎉", "😊", "🙌"],
    "anger": ["😡", "🤬", "👎"],
    "sadness": ["😢", "💔", "😞"],
    "fear": ["😨", "😬"],
    "disgust": ["🤢", "🙄"],
    "surprise": ["😮", "🤯"],
    "neutral": ["", "👀", "📅"],
}
EXTRAS = [
    "Will post an update later.",
    "Not sure what else to say.",
    "Long story short, it has been a week.",
    "My friends all said the same thing.",
    "Been following this for months now.",
    "I read the whole announcement twice to be sure I had not misunderstood anything.",
    "For context, I have been a customer for about six years and never complained before.",
    "Edit: a few people asked, so yes, I did try turning it off and on again.",
    "Curious whether anyone else has seen the same thing in their area.",
    "Not going to pretend I know how this works behind the scenes, but still.",
]
OTHER_LANGUAGES = [
    "No puedo creer lo que pasó hoy",
    "C'est vraiment pas terrible",
    "Das ist wirklich großartig",
    "Que dia incrível, obrigado a todos",
    "今日は本当に最高の一日でした",
    "Это просто ужасно",
]
ADJECTIVES = ["sunny", "quiet", "lucky", "brave", "tired", "happy", "grumpy", "curious", "midnight", "urban"]
NOUNS = ["otter", "falcon", "reader", "runner", "gamer", "chef", "nomad", "coder", "fan", "owl"]


@dataclass(frozen=True)
class Generated:
    post: PostMessage
    topic: str
    emotion: str  # what the template meant, for tests and demos: not a label the platform trusts
    sentiment: str


class Generator:
    def __init__(
        self,
        seed: int = 42,
        scenario: Scenario = "steady",
        burst_topic: str = "airline",
        run_id: str | None = None,
    ) -> None:
        if burst_topic not in TOPICS:
            raise ValueError(f"unknown topic {burst_topic!r}: one of {', '.join(TOPICS)}")
        self.rng = random.Random(seed)
        self.scenario = scenario
        self.burst_topic = burst_topic
        self.run_id = run_id or f"{datetime.now(UTC):%Y%m%d%H%M%S}{random.SystemRandom().randrange(1000):03d}"
        self.count = 0
        self.authors = [
            f"{self.rng.choice(ADJECTIVES)}_{self.rng.choice(NOUNS)}{self.rng.randrange(100)}"
            for _ in range(400)
        ]
        self.author_weights = [self.rng.paretovariate(1.2) for _ in self.authors]  # a few post a lot

    def __iter__(self) -> "Generator":
        return self

    def __next__(self) -> Generated:
        return self.next()

    def next(self, now: datetime | None = None) -> Generated:
        rng = self.rng
        self.count += 1
        source = rng.choices(list(SOURCES), weights=list(SOURCES.values()))[0]
        burst = self.scenario == "burst"
        topic = self.burst_topic if burst and rng.random() < 0.6 else rng.choice(list(TOPICS))
        weights = BURST_WEIGHTS if burst and topic == self.burst_topic else STEADY_WEIGHTS
        emotion = rng.choices(list(weights), weights=list(weights.values()))[0]
        _, sentiment, templates = rng.choice([t for t in TEMPLATES if t[0] == emotion])
        hashtag, subjects = TOPICS[topic]
        text = rng.choice(templates).format(x=rng.choice(subjects))
        if rng.random() < 0.5:
            text = text[0].upper() + text[1:]
        if source == REDDIT:
            text += ". " + " ".join(rng.sample(EXTRAS, k=rng.randint(1, 6)))
        elif rng.random() < 0.15:
            text += ". " + " ".join(rng.sample(EXTRAS, k=rng.randint(1, 2)))
        if rng.random() < 0.05:
            text = rng.choice(OTHER_LANGUAGES) + (f" {hashtag}" if rng.random() < 0.5 else "")
            sentiment, emotion = "unknown", "unknown"
        if rng.random() < 0.08:
            text = self._typo(text)
        if source != REDDIT and rng.random() < 0.5:
            text += f" {hashtag}"
        if rng.random() < 0.2:
            text = f"@{rng.choice(self.authors)} {text}"
        if rng.random() < 0.45 and emotion in EMOJI:
            text += " " + rng.choice(EMOJI[emotion]) * rng.randint(1, 3)
        author = rng.choices(self.authors, weights=self.author_weights)[0]
        post = PostMessage(
            post_id=f"syn-{self.run_id}-{self.count}",
            source=source,
            content=text.strip(),
            author=author,
            created_at=now or datetime.now(UTC),
        )
        return Generated(post, topic, emotion, sentiment)

    def _typo(self, text: str) -> str:
        letters = [i for i, c in enumerate(text[:-1]) if c.isalpha() and text[i + 1].isalpha()]
        if not letters:
            return text
        i = self.rng.choice(letters)
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--count", type=int, help="stop after this many posts")


async def _run(settings: Settings, args: argparse.Namespace, stop: asyncio.Event) -> Producer:
    generator = Generator(settings.ingest_seed, settings.ingest_scenario, settings.ingest_burst_topic)
    out = Producer.for_settings(settings, settings.ingest_rate)
    pacer = Pacer(settings.ingest_rate, settings.ingest_jitter, settings.ingest_seed)
    log.info(
        "synthetic feed (%s, seed %d) at %s posts/s",
        settings.ingest_scenario,
        settings.ingest_seed,
        settings.ingest_rate or "as many",
    )
    count: int | None = getattr(args, "count", None)
    sent = 0
    while not stop.is_set() and (count is None or sent < count):
        await pacer.wait()
        await out.send(generator.next().post)
        sent += 1
    await out.flush()
    return out


SOURCE = Source("synthetic", "the synthetic feed at INGEST_RATE posts/s (the default)", _arguments, _run)
