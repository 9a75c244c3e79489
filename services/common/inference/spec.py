"""The served model's tensor contract, shared by the export (which writes it) and the client (which calls it).

Both tasks come out of one model: one request per batch returns both sets of logits.
"""

from services.common.labels import Emotion, Sentiment

MODEL = "sentiment_emotion"  # the Triton model name
INPUT_IDS = "input_ids"
ATTENTION_MASK = "attention_mask"
SENTIMENT_LOGITS = "sentiment_logits"
EMOTION_LOGITS = "emotion_logits"
INPUTS = (INPUT_IDS, ATTENTION_MASK)
OUTPUTS = (SENTIMENT_LOGITS, EMOTION_LOGITS)

# The order of each output's columns.
SENTIMENT_ORDER: tuple[Sentiment, ...] = tuple(Sentiment)
EMOTION_ORDER: tuple[Emotion, ...] = tuple(Emotion)

MAX_TOKENS = 128  # what all-MiniLM-L6-v2 was trained on; longer texts are truncated
TOKENIZER_FILE = "tokenizer.json"
MANIFEST_FILE = "manifest.json"  # beside the model: its name, version and tokenizer fingerprint
BUNDLED_LANGUAGES = ("en",)  # what the bundled model was trained on: English tweets and Reddit comments
