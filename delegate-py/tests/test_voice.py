"""Speech through the bindings with the offline echo speech provider, in both modes: a WAV
transcribed and metered by its length, text spoken as audio, bytes that are not audio
refused, the voices listed."""

import asyncio
import io
import wave

import pytest

import delegate
from conftest import Opener

PASSWORD = "correct horse battery staple"


def silent_wav(seconds: float, rate: int = 16_000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x00\x00" * int(rate * seconds))
    return out.getvalue()


async def test_speech_is_transcribed_spoken_and_metered(
    opener: Opener, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL")
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.setenv("DELEGATE_AI_PROVIDER", "echo")
    async with await opener() as d:
        signed = await d.auth.register(email="voice@example.com", password=PASSWORD)
        me = await d.auth.verify(signed.access_token)
        heard = await d.voice.transcribe(me, silent_wav(1.5))
        assert heard.format == "wav"
        assert heard.duration_seconds == pytest.approx(1.5, abs=0.01)
        assert heard.text
        with pytest.raises(delegate.DelegateError) as refused:
            await d.voice.transcribe(me, b"not audio at all, just some bytes")
        assert refused.value.code == "unsupported_media_type"

        spoken = await d.voice.synthesize(me, "Hello there", format="wav")
        assert spoken.content_type == "audio/wav"
        assert spoken.audio[:4] == b"RIFF" and len(spoken.audio) > 44
        with pytest.raises(delegate.Invalid) as invalid:
            await d.voice.synthesize(me, "")
        assert invalid.value.field == "text"

        usage = await d.voice.usage(me)
        assert usage.seconds_in == pytest.approx(1.5, abs=0.01)
        # Synthesized seconds are metered once the audio has been measured, just after.
        for _ in range(100):
            if usage.seconds_out > 0:
                break
            await asyncio.sleep(0.05)
            usage = await d.voice.usage(me)
        assert usage.seconds_out > 0
        assert ("alloy", "Alloy") in d.voice.voices()
