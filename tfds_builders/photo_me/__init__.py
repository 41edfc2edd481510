"""Long videos made from a real face photograph, for the spotting benchmark
(``photo_videos``; the fixed study set: ``write_photo_videos``)."""
