"""Demo states: what the page's interactive flow demo draws, computed by the numpy kernels.

``POST /api/demos/evaluate`` takes a flow spec and a 2-D grid and answers the base density at
the grid's preimages, the log-volume correction, the model density, the images of a latent
grid's lines, samples and their log-dets (:func:`server.demos.service.evaluate_demo`).
"""
