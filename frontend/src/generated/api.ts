// Generated from the REST API's OpenAPI document (python -m services.backend.contract) by `npm run generate`
// (frontend/scripts/generate.mjs). Do not edit: `make contract-check` fails when this file is stale.
export interface paths {
    "/api/alerts": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Alerts
         * @description Alerts raised, newest first (by ``triggered_at``).
         */
        get: operations["alerts_api_alerts_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/health": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Health
         * @description The services' state, the table counts, the dead letters and what an operator should know.
         *     ``total_posts`` and ``total_analyses`` are PostgreSQL's estimates (``pg_class.reltuples``) once a table
         *     passes 100,000 rows, exact below. Degraded while Redis or Triton does not answer, or once the dead
         *     letters reach DEAD_LETTERS_DEGRADED_AT.
         */
        get: operations["health_api_health_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/ingest": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Ingest
         * @description Add up to 1,000 posts to the stream; the answer says which were accepted and why others were not.
         *     Accepted posts are on the stream: the workers will store and classify each one once.
         */
        post: operations["ingest_api_ingest_post"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/live/ticket": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Live Ticket
         * @description A single-use ticket for ``/ws/sentiment?ticket=``, good for LIVE_TICKET_TTL_S (30 s) on any API
         *     replica: how a browser, which cannot set headers on a WebSocket, brings the API key (docs/api.md).
         */
        post: operations["live_ticket_api_live_ticket_post"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/posts": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Posts
         * @description Posts with their analyses, newest first (by ``created_at``). An unknown source matches nothing; an
         *     unknown label is a 422. With several topics, the posts tagged with any of them. ``before`` pages a live
         *     feed without skipping or repeating: pass the last post_id seen. A page is kept for FEED_CACHE_TTL_S
         *     (1 s): viewers asking for the same page within it share one query.
         */
        get: operations["posts_api_posts_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/sentiment/aggregate": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Aggregate
         * @description Sentiment counts and shares per bucket of ``created_at`` (UTC), empty buckets included with
         *     zeros; at most 1,500 buckets. Percentages are rounded to 2 places and sum to 100 in a bucket with
         *     posts. Several topics are compared: each one's answer in ``by_topic``, their matches summed above.
         */
        get: operations["aggregate_api_sentiment_aggregate_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/sentiment/distribution": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Distribution
         * @description Sentiment counts and shares over the last ``hours`` (by ``created_at``), and the emotions seen,
         *     most frequent first. Several topics are compared: each one's in ``by_topic``, their matches summed.
         */
        get: operations["distribution_api_sentiment_distribution_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/sentiment/emotions": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Emotions
         * @description Counts of all seven emotions per bucket of ``created_at`` (UTC), empty buckets included. Several
         *     topics are compared: each one's in ``by_topic``, their matches summed above.
         */
        get: operations["emotions_api_sentiment_emotions_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/topics": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List Topics
         * @description Every topic, by name.
         */
        get: operations["list_topics_api_topics_get"];
        put?: never;
        /** Create Topic */
        post: operations["create_topic_api_topics_post"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/topics/share": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Share Of Voice
         * @description Share of voice over the last ``hours``: each topic's posts, their share of all topics' posts, their
         *     sentiment and net sentiment, and the change from the ``hours`` before. (Declared before
         *     ``/api/topics/{topic_id}``, so ``share`` is never read as an id.)
         */
        get: operations["share_of_voice_api_topics_share_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/topics/{topic_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Get Topic */
        get: operations["get_topic_api_topics__topic_id__get"];
        put?: never;
        post?: never;
        /** Delete Topic */
        delete: operations["delete_topic_api_topics__topic_id__delete"];
        options?: never;
        head?: never;
        /**
         * Change Topic
         * @description Change what is sent; ``sources`` or ``languages`` sent as null (or []) widen the topic to all.
         */
        patch: operations["change_topic_api_topics__topic_id__patch"];
        trace?: never;
    };
    "/api/topics/{topic_id}/authors": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Topic Authors
         * @description The topic's top authors over the last ``hours``.
         */
        get: operations["topic_authors_api_topics__topic_id__authors_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/topics/{topic_id}/hashtags": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Topic Hashtags
         * @description The topic's top hashtags over the last ``hours``: a post counts once for each of its hashtags.
         */
        get: operations["topic_hashtags_api_topics__topic_id__hashtags_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        /** Aggregate */
        Aggregate: {
            /**
             * By Topic
             * @description With several topics: each one's own, in the order asked
             * @default []
             */
            by_topic: components["schemas"]["TopicSeries"][];
            /**
             * Data
             * @description With several topics: their matches summed, as share of voice sums them
             */
            data: components["schemas"]["Bucket"][];
            /** End Date */
            end_date: string;
            /**
             * Period
             * @enum {string}
             */
            period: "minute" | "hour" | "day";
            /** Start Date */
            start_date: string;
            summary: components["schemas"]["Summary"];
        };
        /** AlertData */
        AlertData: {
            /** Actual Value */
            actual_value: number;
            /** Alert Type */
            alert_type: string;
            /** Details */
            details: {
                [key: string]: unknown;
            };
            /** Id */
            id: number;
            /** Post Count */
            post_count: number;
            /** Threshold Value */
            threshold_value: number;
            /** Triggered At */
            triggered_at: string;
            /** Window End */
            window_end: string;
            /** Window Start */
            window_start: string;
        };
        /** Alerts */
        Alerts: {
            /** Alerts */
            alerts: components["schemas"]["AlertData"][];
            /** Limit */
            limit: number;
            /** Offset */
            offset: number;
            /** Total */
            total: number;
        };
        /** Analysis */
        Analysis: {
            /** Confidence */
            confidence: number;
            emotion: components["schemas"]["Emotion"];
            label: components["schemas"]["Sentiment"];
            /** Model Name */
            model_name: string;
        };
        /** AuthorCount */
        AuthorCount: {
            /** Author */
            author: string;
            /**
             * Net Sentiment
             * @description (positive - negative) / posts
             */
            net_sentiment: number | null;
            /**
             * Posts
             * @description its posts in the topic in the window
             */
            posts: number;
            sentiment: components["schemas"]["SentimentTotals"];
        };
        /**
         * Backfill
         * @description The topic's tagging of the posts stored before it was made or last changed.
         */
        Backfill: {
            /**
             * Progress
             * @description the share of the stored posts' time span tagged, 0 to 1
             */
            progress: number;
            /**
             * State
             * @enum {string}
             */
            state: "done" | "running";
            /**
             * Through
             * @description running: the posts created from here on are tagged; null: not started
             */
            through?: string | null;
        };
        /** Bucket */
        Bucket: {
            /** Average Confidence */
            average_confidence: number;
            /** Negative Count */
            negative_count: number;
            /** Negative Percentage */
            negative_percentage: number;
            /** Neutral Count */
            neutral_count: number;
            /** Neutral Percentage */
            neutral_percentage: number;
            /** Positive Count */
            positive_count: number;
            /** Positive Percentage */
            positive_percentage: number;
            /** Timestamp */
            timestamp: string;
            /** Total Count */
            total_count: number;
        };
        /** Distribution */
        Distribution: {
            /**
             * By Topic
             * @description With several topics: each one's own, in order
             * @default []
             */
            by_topic: components["schemas"]["TopicDistribution"][];
            /** @description With several topics: their matches summed */
            distribution: components["schemas"]["SentimentTotals"];
            percentages: components["schemas"]["SentimentShares"];
            /** Source */
            source: string | null;
            /** Timeframe Hours */
            timeframe_hours: number;
            /**
             * Top Emotions
             * @description The emotions seen, most frequent first
             */
            top_emotions: Partial<Record<components["schemas"]["Emotion"], number>>;
            /**
             * Topic
             * @description The topics asked for
             * @default []
             */
            topic: number[];
            /** Total */
            total: number;
        };
        /**
         * Emotion
         * @enum {string}
         */
        Emotion: "anger" | "disgust" | "fear" | "joy" | "neutral" | "sadness" | "surprise";
        /** EmotionBucket */
        EmotionBucket: {
            counts: components["schemas"]["EmotionCounts"];
            /** Timestamp */
            timestamp: string;
            /** Total */
            total: number;
        };
        /** EmotionCounts */
        EmotionCounts: {
            /** Anger */
            anger: number;
            /** Disgust */
            disgust: number;
            /** Fear */
            fear: number;
            /** Joy */
            joy: number;
            /** Neutral */
            neutral: number;
            /** Sadness */
            sadness: number;
            /** Surprise */
            surprise: number;
        };
        /** Emotions */
        Emotions: {
            /**
             * By Topic
             * @description With several topics: each one's own, in order
             * @default []
             */
            by_topic: components["schemas"]["TopicEmotions"][];
            /**
             * Data
             * @description With several topics: their matches summed
             */
            data: components["schemas"]["EmotionBucket"][];
            /** End Date */
            end_date: string;
            /**
             * Period
             * @enum {string}
             */
            period: "minute" | "hour" | "day";
            /** Start Date */
            start_date: string;
        };
        /** HTTPValidationError */
        HTTPValidationError: {
            /** Detail */
            detail?: components["schemas"]["ValidationError"][];
        };
        /** HashtagCount */
        HashtagCount: {
            /**
             * Hashtag
             * @description lowercased, with its #
             */
            hashtag: string;
            /**
             * Net Sentiment
             * @description (positive - negative) / posts
             */
            net_sentiment: number | null;
            /**
             * Posts
             * @description its posts in the topic in the window
             */
            posts: number;
            sentiment: components["schemas"]["SentimentTotals"];
        };
        /** Health */
        Health: {
            /**
             * Dead Letters
             * @description Posts set aside, kept until redriven or deleted (None while PostgreSQL does not answer)
             */
            dead_letters: number | null;
            /**
             * Redis Persistence
             * @description How Redis keeps what it holds (None while it does not answer)
             */
            redis_persistence: ("appendonly" | "snapshots" | "none" | "unknown") | null;
            services: components["schemas"]["Services"];
            /**
             * Sources
             * @description What each live source last reported (none: no live source ran)
             */
            sources?: components["schemas"]["SourceStatus"][];
            stats: components["schemas"]["Stats"] | null;
            /**
             * Status
             * @enum {string}
             */
            status: "healthy" | "degraded" | "unhealthy";
            /** Timestamp */
            timestamp: string;
            /**
             * Warnings
             * @description What an operator should know and act on, in plain words
             */
            warnings: string[];
        };
        /** IngestAnswer */
        IngestAnswer: {
            /** Accepted */
            accepted: number;
            /** Rejected */
            rejected: number;
            /** Results */
            results: components["schemas"]["IngestResult"][];
        };
        /** IngestError */
        IngestError: {
            /** Field */
            field: string;
            /** Message */
            message: string;
        };
        /** IngestRequest */
        IngestRequest: {
            /**
             * Posts
             * @description Up to 1,000 posts in the stream message schema: post_id, source, content, author, created_at (ISO 8601 with an offset)
             */
            posts: {
                [key: string]: unknown;
            }[];
        };
        /** IngestResult */
        IngestResult: {
            /** Accepted */
            accepted: boolean;
            /** Errors */
            errors: components["schemas"]["IngestError"][];
            /** Index */
            index: number;
            /** Post Id */
            post_id: string | null;
        };
        /** LiveTicket */
        LiveTicket: {
            /** Expires In S */
            expires_in_s: number;
            /**
             * Ticket
             * @description Pass as ?ticket= to /ws/sentiment, once, within expires_in_s
             */
            ticket: string;
        };
        /** NewTopic */
        NewTopic: {
            /**
             * Languages
             * @description only posts in these languages (BCP 47: en, pt-BR, und; kept as their primary subtag); null: every language
             */
            languages?: string[] | null;
            /** Name */
            name: string;
            /** Query */
            query: string;
            /**
             * Sources
             * @description only posts of these sources; null or absent: every source
             */
            sources?: string[] | null;
        };
        /** Post */
        Post: {
            /** Author */
            author: string;
            /** Content */
            content: string;
            /** Created At */
            created_at: string;
            /**
             * Headline
             * @description with q: the content with each matched word in <b></b>, the rest escaped
             */
            headline?: string | null;
            /**
             * Lang
             * @description BCP 47 primary subtag, "und" when it could not be told; null: not recorded
             */
            lang?: string | null;
            /** Post Id */
            post_id: string;
            sentiment: components["schemas"]["Analysis"];
            /** Source */
            source: string;
            /**
             * Url
             * @description the post at its source
             */
            url?: string | null;
        };
        /**
         * PostFilters
         * @description The filters asked for, None where not given (a label is any text: an unknown one matches nothing).
         */
        PostFilters: {
            /** Before */
            before: string | null;
            /** Emotion */
            emotion: string | null;
            /** End Date */
            end_date: string | null;
            /** Lang */
            lang: string | null;
            /** Q */
            q?: string | null;
            /** Sentiment */
            sentiment: string | null;
            /** Source */
            source: string | null;
            /** Start Date */
            start_date: string | null;
            /**
             * Topic
             * @default []
             */
            topic: number[];
        };
        /** Posts */
        Posts: {
            filters: components["schemas"]["PostFilters"];
            /** Limit */
            limit: number;
            /** Offset */
            offset: number;
            /** Posts */
            posts: components["schemas"]["Post"][];
            /**
             * Total
             * @description Posts matching the filters (exact, counted from the rollup); with q or several topics, exact up to 10,000
             */
            total: number;
            /**
             * Total Is Lower Bound
             * @description with q or several topics: more than 10,000 match (total is 10,000)
             * @default false
             */
            total_is_lower_bound: boolean;
        };
        /**
         * Sentiment
         * @enum {string}
         */
        Sentiment: "negative" | "neutral" | "positive";
        /**
         * SentimentShares
         * @description Percent, to 2 places, summing to 100 (all 0 when there is nothing).
         */
        SentimentShares: {
            /** Negative */
            negative: number;
            /** Neutral */
            neutral: number;
            /** Positive */
            positive: number;
        };
        /** SentimentTotals */
        SentimentTotals: {
            /** Negative */
            negative: number;
            /** Neutral */
            neutral: number;
            /** Positive */
            positive: number;
        };
        /** Services */
        Services: {
            /**
             * Database
             * @enum {string}
             */
            database: "connected" | "disconnected";
            /**
             * Redis
             * @enum {string}
             */
            redis: "connected" | "disconnected";
            /**
             * Triton
             * @enum {string}
             */
            triton: "connected" | "disconnected";
        };
        /** ShareOfVoice */
        ShareOfVoice: {
            /** End Date */
            end_date: string;
            /** Hours */
            hours: number;
            /** Start Date */
            start_date: string;
            /**
             * Topics
             * @description every topic, the most posts first
             */
            topics: components["schemas"]["TopicShare"][];
            /**
             * Total
             * @description the sum of every topic's posts (a post in two topics counts in both)
             */
            total: number;
        };
        /** SourceStatus */
        SourceStatus: {
            /**
             * Behind S
             * @description How far behind live the last event read is, in seconds
             */
            behind_s?: number | null;
            /**
             * Deletes
             * @description Deletes sent onto the stream
             * @default 0
             */
            deletes: number;
            /**
             * Detail
             * @description What it waits for, or the last failure, in plain words
             * @default
             */
            detail: string;
            /**
             * Endpoint
             * @description The server it reads from now
             * @default
             */
            endpoint: string;
            /**
             * Events
             * @description Events received from the source since the ingester started
             * @default 0
             */
            events: number;
            /**
             * Missed S
             * @description Seconds of posts the source could no longer replay (a cursor past its window)
             * @default 0
             */
            missed_s: number;
            /**
             * Posts
             * @description Posts sent onto the stream
             * @default 0
             */
            posts: number;
            /**
             * Reconnects
             * @default 0
             */
            reconnects: number;
            /**
             * Skipped
             * @description Events not sent, by reason
             */
            skipped?: {
                [key: string]: number;
            };
            /**
             * Source
             * @description The source's label (bluesky, mastodon, hackernews, rss)
             */
            source: string;
            /**
             * State
             * @enum {string}
             */
            state: "connecting" | "live" | "reconnecting" | "waiting_for_backlog" | "stopped";
            /** Updated At */
            updated_at: string;
        };
        /** Stats */
        Stats: {
            /** Recent Posts 1H */
            recent_posts_1h: number;
            /** Total Analyses */
            total_analyses: number;
            /** Total Posts */
            total_posts: number;
        };
        /** Summary */
        Summary: {
            /** Negative Total */
            negative_total: number;
            /** Neutral Total */
            neutral_total: number;
            /** Positive Total */
            positive_total: number;
            /** Total Posts */
            total_posts: number;
        };
        /** TopicAuthors */
        TopicAuthors: {
            /**
             * Authors
             * @description the most posts first (ties by name)
             */
            authors: components["schemas"]["AuthorCount"][];
            /** End Date */
            end_date: string;
            /** Hours */
            hours: number;
            /** Start Date */
            start_date: string;
            /** Topic */
            topic: number;
        };
        /**
         * TopicDistribution
         * @description One topic's own distribution, when several are compared.
         */
        TopicDistribution: {
            distribution: components["schemas"]["SentimentTotals"];
            percentages: components["schemas"]["SentimentShares"];
            /** Top Emotions */
            top_emotions: Partial<Record<components["schemas"]["Emotion"], number>>;
            /** Topic */
            topic: number;
            /** Total */
            total: number;
        };
        /**
         * TopicEmotions
         * @description One topic's own emotions, when several are compared.
         */
        TopicEmotions: {
            /** Data */
            data: components["schemas"]["EmotionBucket"][];
            /** Topic */
            topic: number;
        };
        /**
         * TopicFields
         * @description What a topic is made of; PATCH sends only what changes.
         */
        TopicFields: {
            /**
             * Languages
             * @description only posts in these languages (BCP 47: en, pt-BR, und; kept as their primary subtag); null: every language
             */
            languages?: string[] | null;
            /** Name */
            name?: string | null;
            /**
             * Query
             * @description websearch_to_tsquery syntax: words, "quoted phrases", or, -word; #hashtags, @handles and domains as written
             */
            query?: string | null;
            /**
             * Sources
             * @description only posts of these sources; null or absent: every source
             */
            sources?: string[] | null;
        };
        /** TopicHashtags */
        TopicHashtags: {
            /** End Date */
            end_date: string;
            /**
             * Hashtags
             * @description the most posts first (ties by hashtag)
             */
            hashtags: components["schemas"]["HashtagCount"][];
            /** Hours */
            hours: number;
            /** Start Date */
            start_date: string;
            /** Topic */
            topic: number;
        };
        /** TopicOut */
        TopicOut: {
            backfill: components["schemas"]["Backfill"];
            /** Created At */
            created_at: string;
            /** Id */
            id: number;
            /** Languages */
            languages: string[] | null;
            /** Name */
            name: string;
            /** Query */
            query: string;
            /**
             * Revision
             * @description raised by every change of what the topic matches
             */
            revision: number;
            /** Sources */
            sources: string[] | null;
            /** Updated At */
            updated_at: string;
        };
        /**
         * TopicSeries
         * @description One topic's own answer, when several are compared.
         */
        TopicSeries: {
            /** Data */
            data: components["schemas"]["Bucket"][];
            summary: components["schemas"]["Summary"];
            /** Topic */
            topic: number;
        };
        /** TopicShare */
        TopicShare: {
            /** Id */
            id: number;
            /** Name */
            name: string;
            /**
             * Net Sentiment
             * @description (positive - negative) / posts; null without posts
             */
            net_sentiment: number | null;
            /**
             * Net Sentiment Change
             * @description null when either window has no posts
             */
            net_sentiment_change: number | null;
            /**
             * Posts
             * @description its posts in the window
             */
            posts: number;
            /** Posts Change */
            posts_change: number;
            /**
             * Posts Change Percent
             * @description null when the window before had none
             */
            posts_change_percent: number | null;
            /**
             * Previous Posts
             * @description its posts in the window of the same length before
             */
            previous_posts: number;
            sentiment: components["schemas"]["SentimentTotals"];
            /**
             * Share
             * @description its percent of all topics' posts in the window (the shares sum to 100)
             */
            share: number;
        };
        /** Topics */
        Topics: {
            /** Max Topics */
            max_topics: number;
            /** Topics */
            topics: components["schemas"]["TopicOut"][];
        };
        /** ValidationError */
        ValidationError: {
            /** Context */
            ctx?: Record<string, never>;
            /** Input */
            input?: unknown;
            /** Location */
            loc: (string | number)[];
            /** Message */
            msg: string;
            /** Error Type */
            type: string;
        };
    };
    responses: never;
    parameters: never;
    requestBodies: never;
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
    alerts_api_alerts_get: {
        parameters: {
            query?: {
                limit?: number;
                /** @description at most 10000; page further with before (or end_date) */
                offset?: number;
                /** @description ISO 8601: triggered at or after */
                start_date?: string | null;
                /** @description ISO 8601: triggered at or before */
                end_date?: string | null;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Alerts"];
                };
            };
            /** @description Validation Error */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["HTTPValidationError"];
                };
            };
        };
    };
    health_api_health_get: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Health"];
                };
            };
        };
    };
    ingest_api_ingest_post: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["IngestRequest"];
            };
        };
        responses: {
            /** @description Successful Response */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["IngestAnswer"];
                };
            };
            /** @description Missing or wrong bearer token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Ingestion over HTTP is off (no INGEST_TOKEN) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description The body is over API_MAX_BODY_BYTES: send fewer posts at a time */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description No post accepted: each result names the fields at fault */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description The backlog is over STREAM_MAX_BACKLOG; retry after Retry-After seconds */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Redis is not answering or refuses writes; retry after Retry-After seconds */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
        };
    };
    live_ticket_api_live_ticket_post: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["LiveTicket"];
                };
            };
        };
    };
    posts_api_posts_get: {
        parameters: {
            query?: {
                limit?: number;
                /** @description at most 10000; page further with before (or end_date) */
                offset?: number;
                source?: string | null;
                /** @description a BCP 47 primary subtag ("en"), or "und" */
                lang?: string | null;
                sentiment?: components["schemas"]["Sentiment"] | null;
                emotion?: components["schemas"]["Emotion"] | null;
                /** @description ISO 8601 (UTC without an offset) */
                start_date?: string | null;
                /** @description ISO 8601 (UTC without an offset) */
                end_date?: string | null;
                /** @description a post_id: only posts older than it (stable paging) */
                before?: string | null;
                /** @description a search, in the topics' query syntax (docs/topics.md); each post's headline marks the words matched */
                q?: string | null;
                /** @description only the posts tagged with this topic (its id); repeated (at most 10), the posts tagged with any of them, and each topic's own answer in by_topic */
                topic?: number[] | null;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Posts"];
                };
            };
            /** @description Validation Error */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["HTTPValidationError"];
                };
            };
        };
    };
    aggregate_api_sentiment_aggregate_get: {
        parameters: {
            query?: {
                period?: "minute" | "hour" | "day";
                /** @description ISO 8601; default end_date - 24 h */
                start_date?: string | null;
                /** @description ISO 8601; default now */
                end_date?: string | null;
                source?: string | null;
                /** @description only the posts tagged with this topic (its id); repeated (at most 10), the posts tagged with any of them, and each topic's own answer in by_topic */
                topic?: number[] | null;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Aggregate"];
                };
            };
            /** @description Validation Error */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["HTTPValidationError"];
                };
            };
        };
    };
    distribution_api_sentiment_distribution_get: {
        parameters: {
            query?: {
                hours?: number;
                source?: string | null;
                /** @description only the posts tagged with this topic (its id); repeated (at most 10), the posts tagged with any of them, and each topic's own answer in by_topic */
                topic?: number[] | null;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Distribution"];
                };
            };
            /** @description Validation Error */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["HTTPValidationError"];
                };
            };
        };
    };
    emotions_api_sentiment_emotions_get: {
        parameters: {
            query?: {
                period?: "minute" | "hour" | "day";
                /** @description ISO 8601; default end_date - 24 h */
                start_date?: string | null;
                /** @description ISO 8601; default now */
                end_date?: string | null;
                source?: string | null;
                /** @description only the posts tagged with this topic (its id); repeated (at most 10), the posts tagged with any of them, and each topic's own answer in by_topic */
                topic?: number[] | null;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Emotions"];
                };
            };
            /** @description Validation Error */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["HTTPValidationError"];
                };
            };
        };
    };
    list_topics_api_topics_get: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Topics"];
                };
            };
        };
    };
    create_topic_api_topics_post: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["NewTopic"];
            };
        };
        responses: {
            /** @description Successful Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TopicOut"];
                };
            };
            /** @description Missing or wrong admin token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Topic writes are off (no ADMIN_TOKEN) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description A topic of that name exists, or MAX_TOPICS do */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description The query matches nothing, or everything; the field is named */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
        };
    };
    share_of_voice_api_topics_share_get: {
        parameters: {
            query?: {
                hours?: number;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ShareOfVoice"];
                };
            };
            /** @description Validation Error */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["HTTPValidationError"];
                };
            };
        };
    };
    get_topic_api_topics__topic_id__get: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description the topic's id */
                topic_id: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TopicOut"];
                };
            };
            /** @description No such topic */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Validation Error */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["HTTPValidationError"];
                };
            };
        };
    };
    delete_topic_api_topics__topic_id__delete: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description the topic's id */
                topic_id: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Missing or wrong admin token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Topic writes are off (no ADMIN_TOKEN) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description No such topic */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Validation Error */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["HTTPValidationError"];
                };
            };
        };
    };
    change_topic_api_topics__topic_id__patch: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description the topic's id */
                topic_id: number;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["TopicFields"];
            };
        };
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TopicOut"];
                };
            };
            /** @description Missing or wrong admin token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Topic writes are off (no ADMIN_TOKEN) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description No such topic */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description A topic of that name exists, or MAX_TOPICS do */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description The query matches nothing, or everything; the field is named */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
        };
    };
    topic_authors_api_topics__topic_id__authors_get: {
        parameters: {
            query?: {
                /** @description the window: the last this many hours */
                hours?: number;
                /** @description how many, the most posts first */
                limit?: number;
            };
            header?: never;
            path: {
                /** @description the topic's id */
                topic_id: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TopicAuthors"];
                };
            };
            /** @description No such topic */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Validation Error */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["HTTPValidationError"];
                };
            };
        };
    };
    topic_hashtags_api_topics__topic_id__hashtags_get: {
        parameters: {
            query?: {
                /** @description the window: the last this many hours */
                hours?: number;
                /** @description how many, the most posts first */
                limit?: number;
            };
            header?: never;
            path: {
                /** @description the topic's id */
                topic_id: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TopicHashtags"];
                };
            };
            /** @description No such topic */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Validation Error */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["HTTPValidationError"];
                };
            };
        };
    };
}
