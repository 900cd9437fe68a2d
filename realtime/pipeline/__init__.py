"""The turn pipeline: persona, chunking, tags, visemes, audio and the turn engine."""
