"""python manage.py import_articles FILE... — bring the clinic's existing articles in."""

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from articles.importers import ImportProblem, parse_file
from articles.services import article_import


class Command(BaseCommand):
    help = (
        "Import articles from plain-text (.txt) or Markdown (.md) files. New articles are "
        "drafts unless --publish is given; importing a file again updates its article."
    )

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE", help="Article files to import.")
        parser.add_argument("--publish", action="store_true", help="Publish the imported articles now.")

    def handle(self, *args, files, publish, **options):
        failed = 0
        for name in files:
            path = Path(name)
            try:
                parsed = parse_file(path)
                article, action = article_import(parsed=parsed, source=path.name, publish=publish)
            except ImportProblem as problem:
                failed += 1
                self.stderr.write(self.style.ERROR(f"{name}: not imported: {problem}"))
                continue
            except ValidationError as error:
                failed += 1
                details = "; ".join(f"{k}: {' '.join(v)}" for k, v in error.message_dict.items())
                self.stderr.write(self.style.ERROR(f"{name}: not imported: {details}"))
                continue
            state = article.get_status_display().lower()
            self.stdout.write(
                self.style.SUCCESS(f"{name}: {action} ({state}) “{article.title}” /articles/{article.slug}/")
            )
            for warning in parsed.warnings:
                self.stdout.write(self.style.WARNING(f"{name}: note: {warning}"))
        imported = len(files) - failed
        summary = f"{imported} of {len(files)} file(s) imported."
        if failed:
            raise CommandError(f"{summary} {failed} failed; see the messages above.")
        self.stdout.write(summary)
