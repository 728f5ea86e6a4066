"""Staff editing of articles, topics and references."""

from django.contrib import admin, messages
from django.db import models
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from clinic import uploads

from . import services
from .models import Article, Reference, Topic


class ReferenceInline(admin.TabularInline):
    model = Reference
    extra = 1
    fields = ["number", "title", "url"]
    # A link typed without a scheme is taken as https, Django 6's default.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "description"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = ["thumbnail", "title", "status", "published_at", "topic_list", "updated_at"]
    list_display_links = ["thumbnail", "title"]
    list_filter = ["status", "topics", "published_at"]
    search_fields = ["title", "summary", "body"]
    prepopulated_fields = {"slug": ["title"]}
    date_hierarchy = "published_at"
    filter_horizontal = ["topics", "techniques"]
    readonly_fields = ["thumbnail_large", "source_file", "created_at", "updated_at"]
    inlines = [ReferenceInline]
    actions = ["publish", "unpublish"]
    save_on_top = True
    fieldsets = [
        (None, {"fields": ["title", "slug", "summary", "body"]}),
        (_("Picture"), {"fields": ["hero_image", "hero_image_alt", "thumbnail_large"]}),
        (_("Publishing"), {"fields": ["status", "published_at", "author_name", "topics", "techniques"]}),
        (_("History"), {"classes": ["collapse"], "fields": ["source_file", "created_at", "updated_at"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("topics")

    @admin.display(description=_("topics"))
    def topic_list(self, obj: Article) -> str:
        return ", ".join(t.name for t in obj.topics.all())

    @admin.display(description=_("picture"))
    def thumbnail(self, obj: Article):
        if not obj.hero_image:
            return "—"
        return format_html(
            '<img src="{}" alt="" width="64" height="40" style="object-fit:cover;border-radius:4px">',
            obj.hero_src,
        )

    @admin.display(description=_("preview"))
    def thumbnail_large(self, obj: Article):
        if not obj.hero_image:
            return _("No picture")
        return format_html(
            '<img src="{}" alt="{}" style="max-width:320px;height:auto">', obj.hero_src, obj.hero_image_alt
        )

    def save_model(self, request, obj, form, change):
        replaced = uploads.replaced_file_names(form, ["hero_image"])
        super().save_model(request, obj, form, change)
        if "hero_image" in form.changed_data:
            # The old picture and its renditions are deleted once the change is committed.
            services.article_renditions_build(article=obj)
            uploads.files_delete_on_commit(names=replaced)

    @admin.action(description=_("Publish selected articles"), permissions=["change"])
    def publish(self, request, queryset):
        count = services.article_publish(articles=queryset)
        self.message_user(
            request,
            ngettext("%d article published.", "%d articles published.", count) % count,
            messages.SUCCESS,
        )

    @admin.action(description=_("Unpublish selected articles (back to draft)"), permissions=["change"])
    def unpublish(self, request, queryset):
        count = services.article_unpublish(articles=queryset)
        self.message_user(
            request,
            ngettext("%d article unpublished.", "%d articles unpublished.", count) % count,
            messages.SUCCESS,
        )
