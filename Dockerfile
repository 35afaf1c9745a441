# livedigits in a container: the command, the web page (`livedigits serve`), and the worker image of a
# Ray cluster for `livedigits SOURCE --cluster ADDRESS` (README, "Scaling out").
#
#   docker build -t livedigits .                                  # with Ray (the extra livedigits[cluster])
#   docker build -t livedigits-lean --build-arg EXTRAS= .         # without Ray: the command and the web page
#   docker run --rm -p 5000:5000 livedigits serve --host 0.0.0.0
#   docker run --rm -v "$PWD/scans:/data" livedigits /data --jsonl /data/digits.jsonl
#
# Runtime dependencies only (requirements.txt): no TensorFlow, which only training needs. The Python
# minor version and Ray's version must be those of the machine that starts a --cluster run (Ray's rule
# for a driver and its workers): build with --build-arg PYTHON=3.12 to match another Python.
ARG PYTHON=3.11
FROM python:${PYTHON}-slim

# opencv-python's shared libraries; wget for KubeRay's health probes of a Ray node
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 wget \
    && rm -rf /var/lib/apt/lists/*

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /opt/livedigits

# dependencies first: a change to the code does not reinstall them
COPY requirements.txt ./
RUN python -m pip install -r requirements.txt

# the package and the shipped model (installed to share/livedigits/models, where the package finds it)
COPY pyproject.toml README.md ./
COPY livedigits ./livedigits
COPY models/digits.tflite models/digits.keras models/model_card.json models/strings.tflite models/strings.json ./models/
ARG EXTRAS=[cluster]
RUN python -m pip install ".${EXTRAS}" && rm -rf /opt/livedigits/build \
    && livedigits --version

# not root; the web page and Ray's ports are above 1024
RUN useradd --create-home --uid 1000 livedigits
USER livedigits
WORKDIR /home/livedigits
EXPOSE 5000

ENTRYPOINT ["livedigits"]
CMD ["--help"]
