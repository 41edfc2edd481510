"""Preprocessing: TV-L1 optical flow in JAX and optical strain, the face chain of a clip
(``clip_record``) and of a long video (``video_features``: the face followed, per-frame
motion features for spotting)."""
