"""What a person looks at: the game viewer (frames, SVG, the HTML page) and the pipeline's plots."""
