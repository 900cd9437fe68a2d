"""SentenceChunker: exact chunk lists for each rule, and properties over arbitrary splits."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from realtime.pipeline.chunker import RUN_SLACK, SentenceChunker


def chunks(text: str, language: str = "en", step: int | None = None, **kw) -> list[str]:
    """Chunk ``text`` fed whole (step=None) or in ``step``-sized deltas; push chunks + flush."""
    c = SentenceChunker(language, **kw)
    out: list[str] = []
    if step is None:
        out += c.push(text)
    else:
        for k in range(0, len(text), step):
            out += c.push(text[k:k + step])
    return out + c.flush()


def check(text: str, expected: list[str], language: str = "en", **kw) -> None:
    """The chunk list is ``expected`` whether fed whole, char by char or in 3-char deltas."""
    assert "".join(expected) == text
    for step in (None, 1, 3):
        assert chunks(text, language, step, **kw) == expected, f"step={step}"


NOFC = {"first_clause": False}


# ---------------------------------------------------------------------- English sentence ends
def test_basic_sentences() -> None:
    check("This is one sentence. And here is another! Is this the third?",
          ["This is one sentence. ", "And here is another! ", "Is this the third?"], **NOFC)


def test_whitespace_after_end_belongs_to_the_ending_chunk() -> None:
    check("  Leading space here.   Next sentence is here.  ",
          ["  Leading space here.   ", "Next sentence is here.  "], **NOFC)


def test_end_waits_for_the_next_character() -> None:
    c = SentenceChunker(first_clause=False)
    assert c.push("This is a sentence.") == []
    assert c.push(" ") == []
    assert c.push("Then") == ["This is a sentence. "]
    assert c.flush() == ["Then"]


@pytest.mark.parametrize("abbr", ["Mr.", "Mrs.", "Dr.", "Prof.", "St.", "vs."])
def test_title_abbreviations_do_not_end(abbr: str) -> None:
    text = f"Yesterday I met {abbr} Smith at the park. He was kind."
    check(text, [f"Yesterday I met {abbr} Smith at the park. ", "He was kind."], **NOFC)


def test_latin_and_dotted_abbreviations() -> None:
    check("Bring fruit, e.g. Apples or pears. The U.S. Army came, i.e. Soldiers did. Done now.",
          ["Bring fruit, e.g. Apples or pears. ", "The U.S. Army came, i.e. Soldiers did. ",
           "Done now."], **NOFC)


def test_initials_and_number_abbreviations() -> None:
    check("A book by J. R. R. Tolkien is here. See No. 5 on the list. OK then.",
          ["A book by J. R. R. Tolkien is here. ", "See No. 5 on the list. ", "OK then."], **NOFC)


def test_i_is_not_an_initial() -> None:
    check("Nobody else did but I. Then we left.", ["Nobody else did but I. ", "Then we left."],
          **NOFC)


def test_decimals_versions_urls_emails() -> None:
    check("Pi is roughly 3.14 today. Get v1.2.3 at example.com/path now. Mail a.b@c.org, bye. "
          "Visit example.com. Thanks!",
          ["Pi is roughly 3.14 today. ", "Get v1.2.3 at example.com/path now. ",
           "Mail a.b@c.org, bye. ", "Visit example.com. ", "Thanks!"], **NOFC)


def test_url_with_question_mark_does_not_split() -> None:
    check("Open https://x.io/a?b=1&c=2!now and see. Okay then.",
          ["Open https://x.io/a?b=1&c=2!now and see. ", "Okay then."], **NOFC)


def test_ellipsis() -> None:
    check("I was like wait... what is that thing? Well... Then it ended. Hmm… Okay, fine here.",
          ["I was like wait... what is that thing? ", "Well... Then it ended. ",
           "Hmm… Okay, fine here."], **NOFC)


def test_lowercase_after_period_does_not_end() -> None:
    check("The results were fine. and then more came. Next one here.",
          ["The results were fine. and then more came. ", "Next one here."], **NOFC)


def test_quotes_and_brackets_stay_with_the_sentence() -> None:
    check('She said "Really?!" and left the room. "Yes, indeed." He nodded slowly. '
          "(It was very late.) Then we went 'home.' Done.",
          ['She said "Really?!" and left the room. ', '"Yes, indeed." ',
           "He nodded slowly. ", "(It was very late.) ", "Then we went 'home.' ", "Done."], **NOFC)


def test_interrobang_run() -> None:
    check("What did you just say?! Tell me now!!! Okay.",
          ["What did you just say?! ", "Tell me now!!! ", "Okay."], **NOFC)


# ---------------------------------------------------------------------- newlines and lists
def test_newlines_end_chunks() -> None:
    check("First line of text\nSecond line of text\n\nA new paragraph here",
          ["First line of text\n", "Second line of text\n\n", "A new paragraph here"], **NOFC)


def test_leading_newlines_are_not_a_chunk() -> None:
    check("\n\nHello there my friend.\n", ["\n\nHello there my friend.\n"], **NOFC)


def test_numbered_list_markers() -> None:
    check("1. Buy some milk\n2. Walk the dog\n3. Call mom today",
          ["1. Buy some milk\n", "2. Walk the dog\n", "3. Call mom today"], **NOFC)


def test_number_at_sentence_end_mid_line_still_ends() -> None:
    check("The answer is 42. Then we stop.", ["The answer is 42. ", "Then we stop."], **NOFC)


# ---------------------------------------------------------------------- min / max
def test_min_chars_merges_short_sentences() -> None:
    check("Hi. How are you?", ["Hi. How are you?"])
    c = SentenceChunker()
    assert c.push("Hi. ") == []
    assert c.push("How are you? Fine") == ["Hi. How are you? "]
    assert c.flush() == ["Fine"]


def test_min_chars_does_not_apply_at_flush() -> None:
    check("This is long enough. Ok.", ["This is long enough. ", "Ok."], **NOFC)


def test_short_lines_merge() -> None:
    check("Yes\nNo\nMaybe so, friend\nEnd", ["Yes\nNo\nMaybe so, friend\n", "End"], **NOFC)


def test_max_chars_cuts_at_last_clause_mark() -> None:
    text = "one two three four five six, seven eight nine ten eleven twelve thirteen"
    check(text, ["one two three four five six, ", "seven eight nine ten eleven twelve ",
                 "thirteen"], max_chars=36, **NOFC)


def test_max_chars_cuts_at_whitespace_not_inside_words() -> None:
    text = "alpha beta gamma delta epsilon zeta eta theta iota kappa"
    got = chunks(text, max_chars=20, **NOFC)
    assert got == ["alpha beta gamma ", "delta epsilon zeta ", "eta theta iota kappa"]
    assert all(len(c.strip()) <= 20 for c in got)


def test_max_chars_early_clause_mark_loses_to_a_late_space() -> None:
    check("ab, cdefghij klmnopqrs tuv", ["ab, cdefghij ", "klmnopqrs tuv"], max_chars=20,
          **NOFC)


def test_max_chars_hard_cut_without_spaces() -> None:
    check("x" * 25, ["x" * 10, "x" * 10, "x" * 5], max_chars=10, **NOFC)


def test_max_chars_comma_in_number_is_not_a_boundary() -> None:
    check("1,000,000 and 2,500", ["1,000,000 and ", "2,500"], max_chars=16, **NOFC)


def test_max_chars_does_not_orphan_the_period() -> None:
    text = "a" * 10 + ". Next"
    check(text, ["a" * 10 + ". ", "Next"], max_chars=10, min_chars=1, **NOFC)


# ---------------------------------------------------------------------- first clause
def test_first_clause_cut() -> None:
    check("Honestly speaking, I think we should go home now. Later, we can talk, okay?",
          ["Honestly speaking, ", "I think we should go home now. ", "Later, we can talk, okay?"])


def test_first_clause_needs_min_chars_before_the_comma() -> None:
    check("Well, I think, maybe we should go. Sure thing.",
          ["Well, I think, ", "maybe we should go. ", "Sure thing."])


def test_first_clause_ignores_number_commas_and_colons_without_space() -> None:
    check("It costs 1,000 dollars at 10:30 today, they said. Fine by me.",
          ["It costs 1,000 dollars at 10:30 today, ", "they said. Fine by me."])


def test_first_clause_is_only_for_the_first_chunk() -> None:
    check("Okay then. Second sentence, with a comma, and more words. Third.",
          ["Okay then. Second sentence, ", "with a comma, and more words. ", "Third."],
          first_clause_min_chars=8, min_chars=20)


def test_first_clause_off() -> None:
    check("Honestly speaking, I think we should go.", ["Honestly speaking, I think we should go."],
          first_clause=False)


# ---------------------------------------------------------------------- Korean
def test_korean_sentences() -> None:
    check("안녕하세요. 반갑습니다. 오늘 날씨가 정말 좋네요. 산책 갈까요?",
          ["안녕하세요. 반갑습니다. ", "오늘 날씨가 정말 좋네요. ", "산책 갈까요?"], "ko", **NOFC)


def test_korean_numbers_do_not_split() -> None:
    check("가격이 3.5배나 올랐어요. 이건 1,000원이에요! 정말 그래요?",
          ["가격이 3.5배나 올랐어요. ", "이건 1,000원이에요! ", "정말 그래요?"], "ko", **NOFC)


def test_korean_fullwidth_and_ellipsis() -> None:
    check("오늘은 좀 피곤하네요。내일 다시 이야기해요！글쎄요… 잘 모르겠어요.",
          ["오늘은 좀 피곤하네요。", "내일 다시 이야기해요！", "글쎄요… 잘 모르겠어요."], "ko",
          min_chars=5, **NOFC)


def test_korean_fullwidth_period_between_digits() -> None:
    check("값은 3．5 정도입니다．다음 문장입니다.", ["값은 3．5 정도입니다．", "다음 문장입니다."],
          "ko", min_chars=5, **NOFC)


def test_korean_first_clause() -> None:
    check("음, 제 생각에는요, 그게 맞는 것 같아요.", ["음, 제 생각에는요, ", "그게 맞는 것 같아요."],
          "ko-KR", first_clause_min_chars=6)


# ---------------------------------------------------------------------- Japanese / Chinese
def test_japanese_immediate_split() -> None:
    check("こんにちは。今日はいい天気ですね。散歩しましょう！本当？「はい。」次へ",
          ["こんにちは。", "今日はいい天気ですね。", "散歩しましょう！", "本当？", "「はい。」", "次へ"],
          "ja", min_chars=1, **NOFC)


def test_japanese_min_chars_merges() -> None:
    check("こんにちは。今日はいい天気ですね。散歩しましょう！",
          ["こんにちは。今日はいい天気ですね。", "散歩しましょう！"], "ja", **NOFC)


def test_japanese_ascii_terminators() -> None:
    check("すごいですね!次は何ですか? Python 3.12 です。えっと…それは",
          ["すごいですね!", "次は何ですか? ", "Python 3.12 です。", "えっと…それは"], "ja",
          min_chars=1, **NOFC)


def test_japanese_first_clause_fullwidth_comma() -> None:
    check("そうですね、私もそう思います。", ["そうですね、", "私もそう思います。"], "ja",
          first_clause_min_chars=4)


def test_chinese_like_japanese() -> None:
    check("你好。今天天气很好！我们去散步吧？好的",
          ["你好。", "今天天气很好！", "我们去散步吧？", "好的"], "zh-CN", min_chars=1, **NOFC)


def test_unknown_language_behaves_like_english() -> None:
    text = "Hallo Herr Dr. Meier, wie geht es? Gut。Danke."
    assert chunks(text, "de", **NOFC) == chunks(text, "en", **NOFC)
    assert chunks(text, "de", min_chars=1, **NOFC) == [
        "Hallo Herr Dr. Meier, wie geht es? ", "Gut。Danke."]


# ---------------------------------------------------------------------- API details
def test_flush_resets_and_empty_input() -> None:
    c = SentenceChunker()
    assert c.push("") == []
    assert c.flush() == []
    assert c.push("Hello, world! This is it.") == ["Hello, world! "]
    assert c.flush() == ["This is it."]
    assert c.push("Honestly speaking, yes") == ["Honestly speaking, "]  # first chunk again


def test_whitespace_only_input() -> None:
    check("  \n ", ["  \n "])


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        SentenceChunker(max_chars=0)
    with pytest.raises(ValueError):
        SentenceChunker(min_chars=-1)


def test_long_stream_is_fast_and_buffer_stays_small() -> None:
    c = SentenceChunker()
    text = "This is a fairly ordinary sentence, with a clause. " * 1000 + "x" * 5000
    t0 = time.perf_counter()
    out: list[str] = []
    for ch in text:
        out += c.push(ch)
        assert len(c._buf) <= 220 + RUN_SLACK + 2
    out += c.flush()
    assert "".join(out) == text
    assert time.perf_counter() - t0 < 10


# ---------------------------------------------------------------------- properties
FRAGMENTS = [
    " ", "  ", "\n", "\n\n", "\t", ".", "...", "…", "?", "!", "?!", ",", ";", ":", "、", "，",
    "。", "！", "？", "．", '"', "'", ")", "(", "”", "’", "」", "『", "』", "Hello", "world",
    "the", "Mr.", "Dr.", "e.g.", "U.S.", "I", "J", "1.", "3.14", "1,000", "42", "example.com",
    "a@b.io", "v1.2.3", "안녕", "합니다", "다", "요", "배", "원", "こんにちは", "です", "你好",
    "Wait", "what", "x",
]
LANGS = st.sampled_from(["en", "ko", "ja", "zh", "de", "ko-KR"])
TEXTS = st.one_of(st.lists(st.sampled_from(FRAGMENTS), max_size=60).map("".join),
                  st.text(max_size=200))
PARAMS = st.fixed_dictionaries({
    "min_chars": st.integers(0, 20), "max_chars": st.integers(1, 60),
    "first_clause": st.booleans(), "first_clause_min_chars": st.integers(0, 12)})


@st.composite
def split(draw, text_strategy=TEXTS):
    text = draw(text_strategy)
    cuts = sorted(draw(st.sets(st.integers(0, len(text)), max_size=12)))
    bounds = [0, *cuts, len(text)]
    return text, [text[a:b] for a, b in zip(bounds, bounds[1:])]


def run_deltas(deltas: list[str], language: str, **kw) -> tuple[list[str], list[str]]:
    c = SentenceChunker(language, **kw)
    pushed = [ch for d in deltas for ch in c.push(d)]
    return pushed, c.flush()


@settings(max_examples=200, deadline=None)
@given(split(), LANGS, PARAMS)
def test_property_exact_nonempty_and_split_independent(case, language, params) -> None:
    text, deltas = case
    pushed, flushed = run_deltas(deltas, language, **params)
    got = pushed + flushed
    assert "".join(got) == text
    assert all(got)
    assert len(flushed) <= 1
    assert got == chunks(text, language, **params)  # same as fed whole
    for c in got[1:]:
        assert not c[0].isspace()  # whitespace goes with the chunk it follows
    for c in got:
        assert len(c.strip()) <= params["max_chars"] + RUN_SLACK


@settings(max_examples=200, deadline=None)
@given(split(st.lists(st.sampled_from(["Hello", "world", "friend", " ", ".", "!", "?", ", "]),
                      max_size=80).map("".join)))
def test_property_prose_default_settings(case) -> None:
    text, deltas = case
    pushed, flushed = run_deltas(deltas, "en")
    assert "".join(pushed + flushed) == text
    assert pushed + flushed == chunks(text)
    for c in pushed:  # every chunk emitted before flush is a full, speakable piece
        assert len(c.strip()) >= 8


def test_first_max_chars_cuts_only_the_first_chunk() -> None:
    text = ("I really think that everyone who visits our little town should try the bakery "
            "near the harbour because it is wonderful. And the second sentence is long too "
            "but it is not cut early at all because only the first chunk is.")
    c = SentenceChunker("en", first_clause=False, first_max_chars=40)
    out = c.push(text) + c.flush()
    assert "".join(out) == text
    assert len(out[0]) <= 41 and out[0].endswith(" ") and not out[0][-2].isspace()
    assert out[1].endswith("wonderful. ")  # the rest of the first sentence, unshortened
    assert out[2].startswith("And the second") and len(out[2]) > 40


@given(st.text(alphabet="ab .,!?\n", max_size=300), st.integers(1, 30), st.integers(0, 60))
@settings(max_examples=200, deadline=None)
def test_first_max_chars_keeps_the_text(text: str, step: int, first_max: int) -> None:
    whole = SentenceChunker("en", first_max_chars=first_max)
    expected = whole.push(text) + whole.flush()
    c = SentenceChunker("en", first_max_chars=first_max)
    out = [x for i in range(0, len(text), step) for x in c.push(text[i:i + step])] + c.flush()
    assert "".join(out) == text and out == expected
