from services.common.names import RedisNames


def test_without_a_prefix_the_names_are_the_architectures() -> None:
    names = RedisNames()
    assert (names.stream, names.group, names.channel) == (
        "social_posts_stream",
        "sentiment_workers",
        "sentiment_updates",
    )


def test_a_prefix_goes_before_every_key_and_channel() -> None:
    names = RedisNames("staging:")
    keys = [
        names.stream,
        names.channel,
        names.dead_letter_stream,
        names.cache_key("agg", "h"),
    ]
    assert all(key.startswith("staging:") for key in keys)
    assert names.cache_key("agg", "h") == "staging:sentiment_cache:agg:h"
    assert names.group == "sentiment_workers"
