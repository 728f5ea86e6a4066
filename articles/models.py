"""Articles about the benefits of massage, and the sources they cite."""

from __future__ import annotations

import uuid
from pathlib import PurePath

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from clinic.uploads import DetectedFormatImageField

from . import markdown as md
from .choices import ArticleStatus
from .validators import validate_hero_image

WORDS_PER_MINUTE = 200


class Topic(models.Model):
    """A subject that groups articles, such as "Sleep" or "Stress"."""

    name = models.CharField(_("name"), max_length=60, unique=True)
    slug = models.SlugField(_("slug"), max_length=60, unique=True)
    description = models.CharField(
        _("description"), max_length=200, blank=True, help_text=_("One line, shown on the topic's list.")
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return f"{reverse('articles:article-list')}?topic={self.slug}"


class ArticleQuerySet(models.QuerySet):
    def published(self, now=None) -> ArticleQuerySet:
        """Articles a visitor may read: published, and not scheduled for later."""
        return self.filter(status=ArticleStatus.PUBLISHED, published_at__lte=now or timezone.now())

    def visible_to(self, user) -> ArticleQuerySet:
        """Staff who may edit articles also see drafts and scheduled ones."""
        if user.is_authenticated and user.is_staff and user.has_perm("articles.change_article"):
            return self.all()
        return self.published()

    def search(self, query: str) -> ArticleQuerySet:
        query = query.strip()
        if not query:
            return self
        return self.filter(Q(title__icontains=query) | Q(summary__icontains=query) | Q(body__icontains=query))


def hero_upload_to(instance: Article, filename: str) -> str:
    # A random name: no clashes, and nothing from the uploader's disk leaks into URLs.
    suffix = PurePath(filename).suffix.lower()[:6]
    return f"articles/heroes/{uuid.uuid4().hex}{suffix}"


class Article(models.Model):
    """An article for visitors, written in Markdown."""

    title = models.CharField(_("title"), max_length=200)
    slug = models.SlugField(
        _("slug"), max_length=200, unique=True, help_text=_("The last part of the article's web address.")
    )
    summary = models.TextField(
        _("summary"),
        max_length=300,
        help_text=_("One or two sentences, shown in lists and to search engines (about 160 characters)."),
    )
    body = models.TextField(
        _("body"),
        help_text=_(
            "Markdown: ## for a section heading, **bold**, *italic*, [text](https://…) for a "
            "link. Cite a reference by its number in brackets, like [1]."
        ),
    )
    hero_image = DetectedFormatImageField(
        _("hero image"),
        upload_to=hero_upload_to,
        blank=True,
        validators=[validate_hero_image],
        help_text=_("Optional. JPEG, PNG or WebP, at least 800 pixels wide, at most 5 MB."),
    )
    hero_image_alt = models.CharField(
        _("image description"),
        max_length=200,
        blank=True,
        help_text=_("What the picture shows, for people who cannot see it. Required with an image."),
    )
    # Resized copies of the hero image, made when the image is saved:
    # [{"width": 480, "name": "articles/renditions/…-480.webp"}, …].
    hero_renditions = models.JSONField(default=list, blank=True, editable=False)
    topics = models.ManyToManyField(Topic, related_name="articles", blank=True, verbose_name=_("topics"))
    techniques = models.ManyToManyField(
        "booking.Technique",
        related_name="articles",
        blank=True,
        verbose_name=_("related techniques"),
        help_text=_("The article's call to action offers to book these."),
    )
    author_name = models.CharField(_("author"), max_length=100, default="The clinic team")
    status = models.CharField(
        _("status"), max_length=10, choices=ArticleStatus.choices, default=ArticleStatus.DRAFT
    )
    published_at = models.DateTimeField(
        _("publication date"),
        null=True,
        blank=True,
        help_text=_("A date in the future schedules the article; empty means now, when published."),
    )
    source_file = models.CharField(
        _("imported from"),
        max_length=255,
        blank=True,
        editable=False,
        help_text=_("The file this article was imported from; importing it again updates it."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = ArticleQuerySet.as_manager()

    class Meta:
        ordering = ["-published_at", "-id"]
        indexes = [models.Index(fields=["status", "-published_at"], name="article_published_idx")]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("articles:article-detail", kwargs={"slug": self.slug})

    def clean(self) -> None:
        super().clean()
        if self.hero_image and not self.hero_image_alt.strip():
            raise ValidationError(
                {"hero_image_alt": _("Describe the image for people who cannot see it.")},
                code="alt_required",
            )
        if self.status == ArticleStatus.PUBLISHED and self.published_at is None:
            self.published_at = timezone.now()

    @property
    def is_live(self) -> bool:
        return (
            self.status == ArticleStatus.PUBLISHED
            and self.published_at is not None
            and self.published_at <= timezone.now()
        )

    @property
    def reading_minutes(self) -> int:
        return max(1, round(md.word_count(self.body) / WORDS_PER_MINUTE))

    @cached_property
    def reference_list(self) -> list[Reference]:
        # Uses prefetched references when the view prefetched them.
        return list(self.references.all())

    @cached_property
    def body_html(self) -> str:
        numbers = frozenset(ref.number for ref in self.reference_list)
        return md.render_markdown(self.body, numbers)

    @property
    def hero_srcset(self) -> str:
        return ", ".join(f"{default_storage.url(r['name'])} {r['width']}w" for r in self.hero_renditions)

    @property
    def hero_src(self) -> str:
        """The middle rendition (or the original): a sensible fallback for old browsers."""
        if self.hero_renditions:
            return default_storage.url(self.hero_renditions[len(self.hero_renditions) // 2]["name"])
        return self.hero_image.url if self.hero_image else ""

    @property
    def hero_largest(self) -> dict | None:
        return self.hero_renditions[-1] if self.hero_renditions else None


class Reference(models.Model):
    """A numbered source that an article cites with a marker like [1]."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="references")
    number = models.PositiveSmallIntegerField(_("number"), help_text=_("Cited in the body as [number]."))
    title = models.CharField(_("source"), max_length=300)
    url = models.URLField(_("link"), max_length=500, blank=True)

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(fields=["article", "number"], name="reference_number_unique"),
            models.CheckConstraint(condition=Q(number__gte=1), name="reference_number_positive"),
        ]

    def __str__(self) -> str:
        return f"[{self.number}] {self.title}"
