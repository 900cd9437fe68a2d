"""What a photo tells: decoded safely (:mod:`.image`), its face found (:mod:`.landmarks`), its
colours (:mod:`.palette`), its proportions and the face texture (:mod:`.decal`)."""
