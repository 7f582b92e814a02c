"""``POST /v1/stylize`` and the other JSON routes, through FastAPI's TestClient (httpx).

Results are compared with the pipeline called directly: the server must add nothing to
stylization. Every bad input must answer a 4xx JSON ``{"error", "detail"}``, never a traceback,
and never show a server path.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from adain.pipeline.options import StylizeOptions
from adain.pipeline.stylize import StylizationPipeline
from adain.styles.library import resolve_style

STYLE = "antimonocromatismo"
OTHER_STYLE = "water-lilies-1919-2"


def expected(
    pipeline: StylizationPipeline, tmp_path: Path, content: bytes, styles: list[Any], **options: Any
) -> np.ndarray:
    """The pipeline's own result for the server's options (size 64, style size 64, the test limits)."""
    path = tmp_path / "expected-content.png"
    path.write_bytes(content)
    settings = {"size": 64, "max_size": 128, "style_size": 64, "max_pixels": 100_000, **options}
    return np.asarray(pipeline(path, styles, StylizeOptions(**settings)).image.convert("RGB"))


def post(client: TestClient, content: bytes | None, **fields: Any) -> Any:
    files = {
        name: (f"{name}.png", fields.pop(name), "image/png")
        for name in ("style_image", "style2_image", "mask")
        if name in fields
    }
    if content is not None:
        files["content"] = ("photo.png", content, "image/png")
    return client.post("/v1/stylize", files=files, data={k: str(v) for k, v in fields.items()})


def assert_error(response: Any, status: int, code: str, *words: str) -> dict[str, str]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["error"] == code, body
    assert "Traceback" not in body["detail"] and "/tmp" not in body["detail"] and "part-" not in body["detail"], body
    for word in words:
        assert word in body["detail"], body
    return body


class TestRoutes:
    def test_healthz_info_docs_and_page(self, client: TestClient) -> None:
        health = client.get("/healthz").json()
        assert health["status"] == "ok" and health["preset"] == "vgg16-hed" and health["styles"] >= 186
        assert health["pool"] == {"workers": 1, "capacity": 3, "running": 0, "queued": 0, "refused": 0}
        info = client.get("/v1/info").json()
        assert info["default_size"] == 64 and info["limits"]["max_size"] == 128 and info["preview_size"] <= 128
        assert (info["live_size"], info["live_max_size"]) == (128, 128)  # 192 and 256, capped by max_size
        assert "swagger" in client.get("/docs").text.lower()
        schema = client.get("/openapi.json").json()
        form = schema["paths"]["/v1/stylize"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
        assert {"content", "style", "style_image", "alpha", "size", "mix", "mask", "preserve_color"} <= set(
            form["properties"]
        )
        assert form["properties"]["content"]["format"] == "binary"
        page = client.get("/")
        assert page.status_code == 200 and "/static/app.js" in page.text and 'id="alpha"' in page.text
        assert client.get("/static/app.js").status_code == 200
        assert "study.js" in client.get("/study").text

    def test_docs_assets_are_served_here(self, client: TestClient) -> None:
        """/docs and /redoc name no CDN: their scripts and styles come from this server (fastapi-offline)."""
        import re

        for route in ("/docs", "/redoc"):
            html = client.get(route).text
            assets = re.findall(r'(?:src|href)="([^"]+)"', html)
            assert assets and all(a.startswith("/static-offline-docs/") for a in assets), (route, assets)
            assert "cdn" not in html.lower() and "https://" not in html, route
            for asset in assets:
                assert client.get(asset).status_code == 200, asset

    def test_download_names(self, client: TestClient, png: Callable[..., bytes]) -> None:
        files = {
            "content": ("my photo.jpg", png(48, 32), "image/png"),
            "style_image": ("Water Lilies.png", png(40, 40, seed=2), "image/png"),
        }
        response = client.post("/v1/stylize", files=files, data={"style2": f"bank:{STYLE}", "format": "jpeg"})
        assert response.status_code == 200, response.text
        assert response.headers["content-disposition"] == f'inline; filename="my-photo-Water-Lilies-{STYLE}.jpg"'
        # a name of no safe character: the style alone
        response = client.post(
            "/v1/stylize", files={"content": ("☃☃.png", png(48, 32), "image/png")}, data={"style": STYLE}
        )
        assert response.status_code == 200, response.text
        assert response.headers["content-disposition"] == f'inline; filename="{STYLE}.png"'

    def test_unknown_route_is_json(self, client: TestClient) -> None:
        assert_error(client.get("/v1/nothing"), 404, "not_found")
        assert_error(client.get("/v1/stylize"), 405, "method_not_allowed")

    def test_styles_list_the_banks(self, client: TestClient) -> None:
        styles = client.get("/v1/styles").json()
        assert isinstance(styles, list) and len(styles) >= 186
        assert all(set(s) == {"name", "origin", "source", "features", "preview"} for s in styles)
        assert all(s["preview"].startswith(f"/v1/styles/{s['name']}/preview?v=") for s in styles)
        assert {"name": STYLE, "origin": "shipped"}.items() <= next(s for s in styles if s["name"] == STYLE).items()
        assert [s["name"].lower() for s in styles] == sorted(s["name"].lower() for s in styles)


class TestStylize:
    def test_bank_style_equals_the_pipeline(
        self,
        client: TestClient,
        random_pipeline: StylizationPipeline,
        tmp_path: Path,
        png: Callable[..., bytes],
        decoded: Callable[[bytes], np.ndarray],
    ) -> None:
        content = png(48, 32)
        response = post(client, content, style=STYLE, alpha=0.7)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "image/png"
        # saved as <content>-<style>.png (the page's Download and curl -OJ)
        assert response.headers["content-disposition"] == f'inline; filename="photo-{STYLE}.png"'
        image = decoded(response.content)
        assert image.shape == (32, 48, 3)  # under the default size (64): never enlarged
        enlarged = post(client, content, style=STYLE, alpha=0.7, upscale="true")
        assert decoded(enlarged.content).shape == (64, 96, 3)  # asked for: shorter side = the default size
        statistics = resolve_style(f"bank:{STYLE}", "vgg16-hed")
        np.testing.assert_array_equal(image, expected(random_pipeline, tmp_path, content, [statistics], alpha=0.7))
        # bank:NAME names the same style
        np.testing.assert_array_equal(decoded(post(client, content, style=f"bank:{STYLE}", alpha=0.7).content), image)

    @pytest.mark.parametrize("decoder", ["plain", "multilevel"])
    def test_options_reach_the_pipeline(
        self,
        make_client: Callable[..., TestClient],
        request: pytest.FixtureRequest,
        decoder: str,
        tmp_path: Path,
        png: Callable[..., bytes],
        decoded: Callable[[bytes], np.ndarray],
    ) -> None:
        """Also with a multi-level decoder (its skips take every tap of the bank's statistics)."""
        random_pipeline = request.getfixturevalue("random_pipeline" if decoder == "plain" else "multilevel_pipeline")
        client = make_client(pipeline=random_pipeline)
        content, style_image, mask = png(48, 32, seed=1), png(40, 40, seed=2), png(48, 32, seed=3, mode="L")
        first, second = resolve_style(f"bank:{STYLE}", "vgg16-hed"), resolve_style(f"bank:{OTHER_STYLE}", "vgg16-hed")
        image_path = tmp_path / "style.png"
        image_path.write_bytes(style_image)
        mask_path = tmp_path / "mask.png"
        mask_path.write_bytes(mask)
        cases = [
            ({"style_image": style_image, "size": 40, "upscale": "true"}, [image_path], {"size": 40, "upscale": True}),
            ({"style": STYLE, "style2": OTHER_STYLE, "mix": 0.25}, [first, second], {"style_weights": [0.75, 0.25]}),
            ({"style": STYLE, "style2_image": style_image, "mask": mask}, [first, image_path], {"mask": mask_path}),
            ({"style": STYLE, "preserve_color": "true"}, [first], {"preserve_color": "luminance"}),
        ]
        results = []
        for fields, styles, options in cases:
            response = post(client, content, **fields)
            assert response.status_code == 200, (fields.keys(), response.text)
            results.append(decoded(response.content))
            np.testing.assert_array_equal(results[-1], expected(random_pipeline, tmp_path, content, styles, **options))
        assert results[0].shape[0] == 40

    def test_alpha_changes_the_result_and_jpeg(
        self, client: TestClient, png: Callable[..., bytes], decoded: Callable[[bytes], np.ndarray]
    ) -> None:
        content = png()
        full, none = (decoded(post(client, content, style=STYLE, alpha=a).content).astype(int) for a in (1.0, 0.0))
        assert (full != none).any(axis=2).mean() > 0.5  # most pixels change (a random decoder: small values)
        jpeg = post(client, content, style=STYLE, format="jpeg")
        assert (
            jpeg.status_code == 200 and jpeg.headers["content-type"] == "image/jpeg" and jpeg.content[:2] == b"\xff\xd8"
        )

    def test_no_upload_is_left_behind(self, client: TestClient, server_config: Any, png: Callable[..., bytes]) -> None:
        temp_dir = client.app.state.adain.temp_dir
        assert temp_dir.parent == server_config.temp_parent and temp_dir.is_dir()
        assert post(client, png(), style=STYLE).status_code == 200
        assert post(client, b"not an image", style=STYLE).status_code == 400
        assert list(temp_dir.iterdir()) == []


class TestMethod:
    """The ``method`` field: ``decoder`` (default) or ``attention``, which needs style images."""

    def test_attention_with_style_images_equals_the_pipeline(
        self,
        client: TestClient,
        random_pipeline: StylizationPipeline,
        tmp_path: Path,
        png: Callable[..., bytes],
        decoded: Callable[[bytes], np.ndarray],
    ) -> None:
        content, style, other = png(48, 32, seed=1), png(40, 40, seed=2), png(40, 40, seed=5)
        style_path, other_path = tmp_path / "style.png", tmp_path / "other.png"
        style_path.write_bytes(style)
        other_path.write_bytes(other)
        response = post(client, content, style_image=style, method="attention", alpha=0.8)
        assert response.status_code == 200, response.text
        attention = decoded(response.content)
        np.testing.assert_array_equal(
            attention, expected(random_pipeline, tmp_path, content, [style_path], method="attention", alpha=0.8)
        )
        plain = decoded(post(client, content, style_image=style, alpha=0.8).content)
        assert (attention != plain).any(), "attention gave plain AdaIN's image"
        np.testing.assert_array_equal(
            decoded(post(client, content, style_image=style, method=" Decoder ", alpha=0.8).content), plain
        )
        # two style images, mixed
        mixed = post(client, content, style_image=style, style2_image=other, mix=0.25, method="attention")
        assert mixed.status_code == 200, mixed.text
        np.testing.assert_array_equal(
            decoded(mixed.content),
            expected(
                random_pipeline,
                tmp_path,
                content,
                [style_path, other_path],
                method="attention",
                style_weights=[0.75, 0.25],
            ),
        )
        assert client.get("/v1/info").json()["methods"] == ["decoder", "attention"]
        schema = client.get("/openapi.json").json()
        form = schema["paths"]["/v1/stylize"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
        assert "attention" in form["properties"]["method"]["description"]

    def test_a_bank_style_kept_with_its_features_works_by_name(
        self,
        make_client: Callable[..., TestClient],
        server_config: Any,
        random_pipeline: StylizationPipeline,
        tmp_path: Path,
        png: Callable[..., bytes],
        decoded: Callable[[bytes], np.ndarray],
    ) -> None:
        """``adain bank add --features`` keeps them: such a style needs no upload, and is listed so."""
        from adain.styles.bank import BankEntry, StyleBank
        from adain.styles.library import encode_style_image

        style_path = tmp_path / "style.png"
        style_path.write_bytes(png(40, 40, seed=2))
        statistics, _, record = encode_style_image(random_pipeline.encoder, style_path, "vgg16-hed", 64, features=True)
        bank = StyleBank("vgg16-hed")
        bank.add("featured", statistics, BankEntry("featured", style_size=64, images=[record]))
        bank.save(server_config.user_bank)
        client = make_client()
        listed = {s["name"]: s["features"] for s in client.get("/v1/styles").json()}
        assert listed["featured"] is True and listed[STYLE] is False
        content = png(48, 32, seed=1)
        response = post(client, content, style="featured", method="attention")
        assert response.status_code == 200, response.text
        np.testing.assert_array_equal(
            decoded(response.content),
            expected(
                random_pipeline,
                tmp_path,
                content,
                [StyleBank.load(server_config.user_bank).get("featured")],
                method="attention",
            ),
        )

    @pytest.mark.parametrize(
        ("fields", "words"),
        [
            ({"style": STYLE}, ("needs a style image", "'style' is a bank style", "upload the image as 'style_image'")),
            ({"style": "my-style"}, ("'style' is a bank style kept as statistics only",)),  # POST /v1/styles keeps none
            ({"style": f"bank:{STYLE}"}, ("'style_image'",)),
            ({"style2": OTHER_STYLE, "mix": "0.5"}, ("'style2' is a bank style", "'style2_image'")),
            ({"mask": "painted"}, ("a mask routes",)),  # the pipeline's own refusal, with style2_image
            ({"method": "bogus"}, ("method must be decoder or attention", "'bogus'")),
            ({"method": "optimize"}, ("method must be decoder or attention",)),
        ],
        ids=["bank-style", "user-style", "bank-prefix", "bank-style2", "mask", "bogus", "optimize"],
    )
    def test_refusals(
        self, client: TestClient, png: Callable[..., bytes], fields: dict[str, Any], words: tuple[str, ...]
    ) -> None:
        if fields.get("style") == "my-style":
            added = client.post("/v1/styles", data={"name": "my-style"}, files={"style_image": ("a.png", png(40, 40))})
            assert added.status_code == 201, added.text
        fields = {"method": "attention", **fields}
        if "style" not in fields:
            fields["style_image"] = png(40, 40, seed=2)
        if "mask" in fields:
            fields.update(style2_image=png(40, 40, seed=3), mask=png(48, 32, seed=4, mode="L"))
        body = assert_error(post(client, png(), **fields), 400, "bad_parameter", *words)
        assert "\n" not in body["detail"]


class TestBadInput:
    @pytest.mark.parametrize(
        ("fields", "status", "code", "words"),
        [
            ({"style": "no-such-style"}, 400, "unknown_style", ("no-such-style",)),
            ({"style": STYLE[:-3]}, 400, "unknown_style", (f"did you mean bank:{STYLE}?",)),
            ({"style": STYLE, "upscale": "maybe"}, 400, "bad_parameter", ("upscale",)),
            ({"style": "/etc/passwd"}, 400, "unknown_style", ()),  # a path is a name, never opened
            ({"style": "bank:../../secret"}, 400, "unknown_style", ()),
            ({"style": STYLE, "alpha": "2"}, 400, "bad_parameter", ("alpha",)),
            ({"style": STYLE, "alpha": "strong"}, 400, "bad_parameter", ("alpha", "strong")),
            ({"style": STYLE, "alpha": "nan"}, 400, "bad_parameter", ("alpha",)),
            ({"style": STYLE, "size": "0"}, 400, "bad_parameter", ("size",)),
            ({"style": STYLE, "size": "8"}, 400, "bad_parameter", ("size", "16")),  # the networks' least
            ({"style": STYLE, "size": "5000"}, 400, "bad_parameter", ("size", "128")),
            ({"style": STYLE, "mix": "0.5"}, 400, "bad_parameter", ("second style",)),
            ({"style": STYLE, "style2": OTHER_STYLE, "mix": "1.5"}, 400, "bad_parameter", ("mix",)),
            ({"style": STYLE, "preserve_color": "maybe"}, 400, "bad_parameter", ("preserve_color",)),
            ({"style": STYLE, "format": "gif"}, 400, "bad_parameter", ("format",)),
            ({"style": STYLE, "colour": "red"}, 400, "unknown_field", ("colour",)),
            ({}, 400, "missing_parameter", ("style",)),
        ],
    )
    def test_bad_fields(
        self,
        client: TestClient,
        png: Callable[..., bytes],
        fields: dict[str, str],
        status: int,
        code: str,
        words: tuple[str, ...],
    ) -> None:
        assert_error(post(client, png(), **fields), status, code, *words)

    def test_bad_files(self, client: TestClient, png: Callable[..., bytes]) -> None:
        assert_error(post(client, None, style=STYLE), 400, "missing_parameter", "content")
        assert_error(post(client, b"GIF89a but not really", style=STYLE), 400, "bad_image", "'content'")
        assert_error(post(client, png()[:60], style=STYLE), 400, "bad_image", "'content'")  # truncated
        assert_error(post(client, png(), style_image=b"\x00" * 100), 400, "bad_image", "'style_image'")
        assert_error(post(client, png(), style=STYLE, style_image=png()), 400, "bad_parameter", "not both")
        assert_error(post(client, png(), style=STYLE, mask=png(mode="L")), 400, "bad_parameter", "second style")

    def test_fields_of_the_wrong_kind(self, client: TestClient, png: Callable[..., bytes]) -> None:
        files = {"content": ("a.png", png(), "image/png"), "alpha": ("alpha.txt", b"0.5", "text/plain")}
        assert_error(client.post("/v1/stylize", files=files, data={"style": STYLE}), 400, "bad_parameter", "'alpha'")
        data = {"style": STYLE, "style2": OTHER_STYLE, "mask": "white"}
        response = client.post("/v1/stylize", files={"content": ("a.png", png(), "image/png")}, data=data)
        assert_error(response, 400, "bad_parameter", "'mask'", "file")
        data = {"style": STYLE, "alpha": ["0.1", "1"]}
        response = client.post("/v1/stylize", files={"content": ("a.png", png(), "image/png")}, data=data)
        assert_error(response, 400, "bad_parameter", "'alpha'", "more than once")

    def test_extreme_aspect_ratios_are_refused_before_resizing(
        self, client: TestClient, png: Callable[..., bytes]
    ) -> None:
        assert_error(post(client, png(2000, 2), style=STYLE), 400, "bad_image", "'content'", "2000x2")
        assert_error(post(client, png(), style_image=png(2000, 2)), 413, "too_many_pixels", "'style_image'")

    def test_pixel_cap_is_checked_before_decoding(self, client: TestClient, png: Callable[..., bytes]) -> None:
        assert_error(post(client, png(400, 300), style=STYLE), 413, "too_many_pixels", "400x300", "100,000")
        assert_error(post(client, png(), style_image=png(400, 300)), 413, "too_many_pixels", "style_image")

    def test_upload_size_limit(self, client: TestClient, png: Callable[..., bytes]) -> None:
        big = bytes(1_200_000)  # over the 1 MB limit
        assert_error(post(client, big, style=STYLE), 413, "upload_too_large", "1.0 MB")

        def chunks():  # no Content-Length: counted while streaming
            boundary = b"--b0undary\r\n"
            yield boundary + b'Content-Disposition: form-data; name="content"; filename="x.png"\r\n\r\n'
            for _ in range(40):
                yield bytes(64 * 1024)

        response = client.post(
            "/v1/stylize", content=chunks(), headers={"content-type": "multipart/form-data; boundary=b0undary"}
        )
        assert_error(response, 413, "upload_too_large")

    def test_not_multipart(self, client: TestClient) -> None:
        assert_error(client.post("/v1/stylize", json={"style": STYLE}), 415, "unsupported_media_type")
        response = client.post(
            "/v1/stylize", content=b"--x\r\nnonsense", headers={"content-type": "multipart/form-data; boundary=x"}
        )
        assert response.status_code == 400 and response.json()["error"] in ("bad_request", "missing_parameter")
        unclosed = b'--x\r\nContent-Disposition: form-data; name="style"\r\n\r\nabc\r\n'
        response = client.post(
            "/v1/stylize", content=unclosed, headers={"content-type": "multipart/form-data; boundary=x"}
        )
        assert_error(response, 400, "bad_request", "closing boundary")
        long = "b" * 1000
        response = client.post(
            "/v1/stylize",
            content=b"--" + long.encode(),
            headers={"content-type": f"multipart/form-data; boundary={long}"},
        )
        assert_error(response, 400, "bad_request", "boundary", "70")

    def test_a_bug_is_a_json_500_without_traceback(
        self, make_client: Callable[..., TestClient], random_pipeline: Any, png: Callable[..., bytes]
    ) -> None:
        class Broken:
            preset, encoder = random_pipeline.preset, random_pipeline.encoder

            def __call__(self, *args: Any, **kwargs: Any) -> Any:
                raise RuntimeError("simulated bug")

        client = make_client(pipeline=Broken(), raise_server_exceptions=False)
        response = post(client, png(), style=STYLE)
        assert response.status_code == 500
        assert response.json()["error"] == "internal_error" and "Traceback" not in response.text


class TestUserStyles:
    def test_add_list_use_and_persist(
        self,
        make_client: Callable[..., TestClient],
        server_config: Any,
        png: Callable[..., bytes],
        decoded: Callable[[bytes], np.ndarray],
    ) -> None:
        from adain.styles.bank import StyleBank

        client = make_client()
        style = png(40, 40, seed=7)
        added = client.post(
            "/v1/styles",
            data={"name": "my-style", "source": "test"},
            files={"style_image": ("painting.png", style, "image/png")},
        )
        assert added.status_code == 201, added.text
        assert added.json() == {"name": "my-style", "origin": "user", "images": 1}
        mine = [s for s in client.get("/v1/styles").json() if s["origin"] == "user"]
        assert [{k: v for k, v in s.items() if k != "preview"} for s in mine] == [
            {"name": "my-style", "origin": "user", "source": "test", "features": False}
        ]
        # a bank style gives the same result as its image
        content = png(seed=8)
        by_name = decoded(post(client, content, style="my-style").content).astype(int)
        by_image = decoded(post(client, content, style_image=style).content).astype(int)
        assert np.abs(by_name - by_image).max() <= 1
        # persisted in the user's bank file, seen by a new server
        bank = StyleBank.load(server_config.user_bank)
        assert list(bank) == ["my-style"] and bank.entries["my-style"].images[0]["file"] == "painting.png"
        assert "my-style" in [s["name"] for s in make_client().get("/v1/styles").json()]

    def test_add_errors(self, client: TestClient, png: Callable[..., bytes]) -> None:
        def add(name: str | None, *images: bytes, **extra: str) -> Any:
            data = {**({"name": name} if name is not None else {}), **extra}
            return client.post(
                "/v1/styles",
                data=data,
                files=[("style_image", (f"{i}.png", im, "image/png")) for i, im in enumerate(images)],
            )

        assert add("pooled", png(40, 40, seed=1), png(40, 40, seed=2)).json()["images"] == 2
        assert_error(add("pooled", png(40, 40)), 409, "style_exists", "replace")
        assert add("pooled", png(40, 40), replace="true").status_code == 201
        assert_error(add("../evil", png(40, 40)), 400, "bad_parameter", "style name")
        assert_error(add(None, png(40, 40)), 400, "missing_parameter", "name")
        assert_error(add("no-image"), 400, "missing_parameter", "style_image")
        assert_error(add("junk", b"junk"), 400, "bad_image", "'style_image'")
        assert_error(add("huge", png(400, 300)), 413, "too_many_pixels")
