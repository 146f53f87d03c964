FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY proxy ./proxy
COPY web ./web
RUN pip install --no-cache-dir .
EXPOSE 8080
CMD ["proxy", "serve"]
