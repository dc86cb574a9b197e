from django.contrib import admin

from learn.models import LessonProgress


@admin.register(LessonProgress)
class LessonProgressAdmin(admin.ModelAdmin):
    list_display = ("user", "lesson", "done", "answered", "updated_at")
    list_filter = ("lesson", "done", "answered")
